import { Agent, request } from 'node:http';

/** One answered request of a keyed load: which user asked, what came back, and from which generation. */
export interface KeyedAnswer {
  readonly key: string;
  readonly status: number;
  /** From x-airlock-generation (rollout.debugHeaders: true). */
  readonly generation: number | undefined;
  readonly at: number;
  /** From sending the request to the end of the response. */
  readonly ms: number;
}

/**
 * Keep-alive HTTP load as users of a rollout send it: `clients` loops over one pooled
 * agent, each request carrying `x-user-id: u<n>` for n cycling over `users`. Node's agent
 * does not retry, so a reset or refused request is a failure, never hidden.
 *
 * @example
 *   const load = new KeyedLoad(8080, { users: 500 });
 *   await load.stop();
 *   load.answers.filter((a) => a.generation === 5);
 */
export class KeyedLoad {
  readonly answers: KeyedAnswer[] = [];
  /** Requests that got no HTTP answer at all (reset, refused, cut). */
  readonly failures: string[] = [];
  #running = true;
  #next = 0;
  readonly #agent: Agent;
  readonly #loops: Promise<void>[] = [];

  constructor(
    private readonly port: number,
    private readonly options: { users: number; clients?: number; header?: string },
  ) {
    const clients = options.clients ?? 8;
    this.#agent = new Agent({ keepAlive: true, maxSockets: clients });
    for (let i = 0; i < clients; i++) this.#loops.push(this.#loop());
  }

  #once(): Promise<void> {
    const key = `u${this.#next++ % this.options.users}`;
    const started = performance.now();
    return new Promise((resolve) => {
      const headers = { [this.options.header ?? 'x-user-id']: key };
      const req = request({ host: '127.0.0.1', port: this.port, path: '/', agent: this.#agent, headers }, (res) => {
        res.resume();
        res.on('end', () => {
          const generation = res.headers['x-airlock-generation'];
          this.answers.push({ key, status: res.statusCode ?? 0, generation: generation === undefined ? undefined : Number(generation), at: Date.now(), ms: performance.now() - started });
          resolve();
        });
        res.on('error', (error) => {
          this.failures.push(`${key}: response: ${error.message}`);
          resolve();
        });
      });
      req.on('error', (error) => {
        this.failures.push(`${key}: request: ${(error as NodeJS.ErrnoException).code ?? error.message}`);
        resolve();
      });
      req.end();
    });
  }

  async #loop(): Promise<void> {
    while (this.#running) await this.#once();
  }

  async stop(): Promise<void> {
    this.#running = false;
    await Promise.all(this.#loops);
    this.#agent.destroy();
  }
}
