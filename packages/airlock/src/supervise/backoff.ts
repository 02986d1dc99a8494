/**
 * Restart delays for a crashing child: doubling from `initialMs` up to `maxMs`, back to
 * the start once a run lasted longer than `resetAfterMs` (it was healthy for a while).
 *
 * @example
 *   const backoff = new Backoff();
 *   backoff.next(ranForMs); // 500, 1000, 2000, ... 30000
 */
export class Backoff {
  #attempt = 0;

  constructor(
    private readonly initialMs = 500,
    private readonly maxMs = 30_000,
    private readonly resetAfterMs = 10_000,
  ) {}

  next(ranForMs: number): number {
    if (ranForMs >= this.resetAfterMs) this.#attempt = 0;
    const wait = Math.min(this.maxMs, this.initialMs * 2 ** this.#attempt);
    this.#attempt += 1;
    return wait;
  }

  reset(): void {
    this.#attempt = 0;
  }
}
