/**
 * Which generation takes new work, and requests or connections waiting while none is
 * ready. Shared by the HTTP and the TCP proxy.
 */
export interface Backend {
  readonly generation: number;
  readonly host: string;
  readonly port: number;
  /** False once the generation's process is gone: what it was sent is not sent again. */
  readonly alive?: () => boolean;
  /** The generation's process, once it runs: a proxy worker in another process judges alive() by it. */
  readonly pid?: () => number | undefined;
}

interface Waiter {
  resolve(backend: Backend | undefined): void;
  timer: NodeJS.Timeout;
}

export class BackendSwitch {
  #active: Backend | undefined;
  /** Why nothing will serve soon (a crash loop): waiting ends at once while set. */
  #unavailable: string | undefined;
  readonly #waiting = new Set<Waiter>();

  constructor(private readonly holdMs: number) {}

  get active(): Backend | undefined {
    return this.#active;
  }

  readonly #changes = new Set<() => void>();

  /** Resolves at the next set(), or after `ms`: a retry waits for a replacement this way. */
  nextChange(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#changes.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#changes.add(done);
    });
  }

  /** Switches new work to `backend` in one step and releases everything waiting. */
  set(backend: Backend | undefined): void {
    this.#active = backend;
    if (backend !== undefined) this.#unavailable = undefined;
    for (const done of [...this.#changes]) done();
    if (backend === undefined) return;
    for (const waiter of this.#waiting) {
      clearTimeout(waiter.timer);
      waiter.resolve(backend);
    }
    this.#waiting.clear();
  }

  /** Why no backend will come soon, while a crash loop lasts; undefined otherwise. */
  get unavailable(): string | undefined {
    return this.#active === undefined ? this.#unavailable : undefined;
  }

  /** Stops holding work: everything waiting, and whatever comes until the next set(backend), gets no backend. */
  setUnavailable(reason: string): void {
    this.#unavailable = reason;
    if (this.#active === undefined) this.close();
  }

  /** The active backend, or the next one to become active within the hold time. */
  acquire(): Promise<Backend | undefined> {
    if (this.#active !== undefined) return Promise.resolve(this.#active);
    if (this.#unavailable !== undefined) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const waiter: Waiter = {
        resolve,
        timer: setTimeout(() => {
          this.#waiting.delete(waiter);
          resolve(undefined);
        }, this.holdMs),
      };
      this.#waiting.add(waiter);
    });
  }

  /** Lets everything waiting go (without a backend): airlock is shutting down. */
  close(): void {
    for (const waiter of this.#waiting) {
      clearTimeout(waiter.timer);
      waiter.resolve(undefined);
    }
    this.#waiting.clear();
  }
}

/** Counts open work per generation so a retiring one can be stopped once it is idle. */
export class InFlight {
  readonly #counts = new Map<number, number>();
  readonly #idle = new Map<number, (() => void)[]>();

  add(generation: number): void {
    this.#counts.set(generation, (this.#counts.get(generation) ?? 0) + 1);
  }

  done(generation: number): void {
    const left = (this.#counts.get(generation) ?? 1) - 1;
    this.#counts.set(generation, left);
    if (left === 0) for (const resolve of this.#idle.get(generation)?.splice(0) ?? []) resolve();
  }

  count(generation: number): number {
    return this.#counts.get(generation) ?? 0;
  }

  /** Resolves true when no generation has anything open, false when `ms` passed first. */
  async allIdle(ms: number): Promise<boolean> {
    const until = performance.now() + ms;
    for (const generation of [...this.#counts.keys()]) {
      if (!(await this.idle(generation, Math.max(0, until - performance.now())))) return false;
    }
    return true;
  }

  /** Resolves true when the generation has nothing open, false when `ms` passed first. */
  async idle(generation: number, ms: number): Promise<boolean> {
    if (this.count(generation) === 0) return true;
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), ms);
      const list = this.#idle.get(generation) ?? [];
      list.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
      this.#idle.set(generation, list);
    });
  }
}
