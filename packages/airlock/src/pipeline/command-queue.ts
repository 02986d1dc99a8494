/** A command waiting for its turn, with the ticket its sender holds. */
interface Queued<C, R> {
  readonly command: C;
  readonly resolve: (result: R) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * One owner, commands in order (watchexec's job task): every action on a service is a
 * message, handled one at a time by the one handler allowed to change the service's
 * state. `send` returns a ticket that settles with the handler's result once that
 * command was handled.
 *
 * Three rules make orderings testable instead of a matter of call timing:
 * - an idle queue starts a command at once, synchronously, so a command's synchronous
 *   part runs inside `send` (an exit is acted on in the same turn it is heard);
 * - a command sent while the handler's synchronous part runs (a consequence of that
 *   command, such as a rollout verb that promotes) is handled right there, as part of it;
 * - any other command waits until the ones before it, including their awaits, are done.
 * A handler that throws rejects that ticket only; the queue goes on. After `close`, new
 * commands are refused (their tickets settle with `closedResult`).
 *
 * @example
 *   const queue = new CommandQueue<Command, string | undefined>((command) => runner.handle(command), undefined);
 *   const refused = await queue.send({ kind: 'rollout', action: 'promote' });
 */
export class CommandQueue<C, R> {
  readonly #waiting: Queued<C, R>[] = [];
  #draining = false;
  /** True only while the handler's synchronous part runs. */
  #inside = false;
  #closed = false;

  constructor(
    private readonly handle: (command: C) => R | Promise<R>,
    private readonly closedResult: R,
  ) {}

  /** True while a command is being handled or waits. */
  get busy(): boolean {
    return this.#draining;
  }

  send(command: C): Promise<R> {
    if (this.#closed) return Promise.resolve(this.closedResult);
    if (this.#inside) {
      try {
        return Promise.resolve(this.#call(command));
      } catch (error) {
        return Promise.reject(error);
      }
    }
    return new Promise<R>((resolve, reject) => {
      this.#waiting.push({ command, resolve, reject });
      if (!this.#draining) void this.#drain();
    });
  }

  /** No command is taken from now on; the one being handled finishes. */
  close(): void {
    this.#closed = true;
    for (const queued of this.#waiting.splice(0)) queued.resolve(this.closedResult);
  }

  /** Runs the handler, marking its synchronous part. */
  #call(command: C): R | Promise<R> {
    const outer = this.#inside;
    this.#inside = true;
    try {
      return this.handle(command);
    } finally {
      this.#inside = outer;
    }
  }

  async #drain(): Promise<void> {
    this.#draining = true;
    try {
      for (let queued = this.#waiting.shift(); queued !== undefined; queued = this.#waiting.shift()) {
        try {
          const result = this.#call(queued.command);
          queued.resolve(result instanceof Promise ? await result : result);
        } catch (error) {
          queued.reject(error);
        }
      }
    } finally {
      this.#draining = false;
    }
  }
}
