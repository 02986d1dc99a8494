import type { Clock } from '../../src/clock.ts';

/**
 * A clock that only moves when the test says so: `advance(ms)` runs the timers that fall
 * due on the way, in order, each at its own time.
 *
 * @example
 *   const clock = new FakeClock();
 *   clock.setTimeout(() => fired.push(clock.now()), 50);
 *   clock.advance(60); // fired: [50]
 */
export class FakeClock implements Clock {
  #now = 0;
  /** Wall time starts far from 0, as Date.now() does. */
  readonly #wallOffset = 1_800_000_000_000;
  readonly #timers = new Map<number, { at: number; fn: () => void }>();
  #next = 1;

  now(): number {
    return this.#now;
  }

  wall(): number {
    return this.#wallOffset + this.#now;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.#next++;
    this.#timers.set(id, { at: this.#now + ms, fn });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.#timers.delete(handle as number);
  }

  /** Timers waiting to fire. */
  get pending(): number {
    return this.#timers.size;
  }

  advance(ms: number): void {
    const until = this.#now + ms;
    for (;;) {
      const due = [...this.#timers.entries()].filter(([, t]) => t.at <= until).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      this.#timers.delete(due[0]);
      this.#now = due[1].at;
      due[1].fn();
    }
    this.#now = until;
  }
}
