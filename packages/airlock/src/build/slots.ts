/**
 * A counting semaphore for builds: a change that touches many services starts at most
 * `limit` builds at once (default: the number of cores); the rest wait their turn.
 *
 * @example
 *   const release = await slots.acquire(signal); // undefined when aborted while waiting
 *   try { await build(); } finally { release?.(); }
 */
export class BuildSlots {
  #free: number;
  readonly #queue: (() => void)[] = [];

  #limit: number;

  constructor(limit: number) {
    this.#limit = Math.max(1, limit);
    this.#free = this.#limit;
  }

  get limit(): number {
    return this.#limit;
  }

  /** A new limit (airlock.yaml edited): more slots start waiting builds now; fewer take effect as builds finish. */
  resize(limit: number): void {
    const next = Math.max(1, limit);
    this.#free += next - this.#limit;
    this.#limit = next;
    while (this.#free > 0 && this.#queue.length > 0) {
      this.#free--;
      (this.#queue.shift() as () => void)();
    }
  }

  async acquire(signal?: AbortSignal): Promise<(() => void) | undefined> {
    if (signal?.aborted) return undefined;
    if (this.#free > 0) {
      this.#free--;
      return this.#releaser();
    }
    return new Promise((resolve) => {
      const grant = () => {
        signal?.removeEventListener('abort', onAbort);
        resolve(this.#releaser());
      };
      const onAbort = () => {
        const index = this.#queue.indexOf(grant);
        if (index !== -1) this.#queue.splice(index, 1);
        resolve(undefined);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#queue.push(grant);
    });
  }

  #releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      // After a shrink, free goes below zero: a finished build then only pays back the debt.
      const next = this.#free >= 0 ? this.#queue.shift() : undefined;
      if (next) next();
      else this.#free++;
    };
  }
}
