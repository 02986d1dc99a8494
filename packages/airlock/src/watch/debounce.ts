import { realClock, type Timers } from '../clock.js';

/** The timer functions a debouncer uses; tests pass a fake clock. */
export type Clock = Timers;
export { realClock };

/**
 * A trailing debounce over a set of items: every add() restarts the quiet period; when
 * it passes, flush receives everything added since the last flush, once. A delay of 0
 * still coalesces what arrives in the same turn of the event loop.
 *
 * @example
 *   const d = new Debouncer<string>(50, (paths) => build(paths));
 *   d.add(['a.go']); d.add(['b.go']); // one build with both, 50 ms after the last add
 */
export class Debouncer<T> {
  #pending = new Set<T>();
  #timer: unknown;
  #firstAt: number | undefined;

  constructor(
    private readonly delayMs: number,
    private readonly flush: (items: Set<T>, firstAddedAt: number) => void,
    private readonly clock: Clock = realClock,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /**
   * Adds items and restarts the quiet period; `firstAt` carries a burst's start over a
   * re-add. `delayMs` waits that long instead of the delay; `keepTimer` adds without
   * restarting a quiet period under way (items that change nothing about when to look).
   */
  add(items: Iterable<T>, firstAt?: number, options: { readonly delayMs?: number; readonly keepTimer?: boolean } = {}): void {
    for (const item of items) this.#pending.add(item);
    if (this.#pending.size === 0) return;
    this.#firstAt = Math.min(this.#firstAt ?? Infinity, firstAt ?? this.now());
    if (this.#timer !== undefined) {
      if (options.keepTimer === true) return;
      this.clock.clearTimeout(this.#timer);
    }
    this.#timer = this.clock.setTimeout(() => this.#fire(), options.delayMs ?? this.delayMs);
  }

  #fire(): void {
    const items = this.#pending;
    const firstAt = this.#firstAt ?? this.now();
    this.#pending = new Set();
    this.#timer = undefined;
    this.#firstAt = undefined;
    this.flush(items, firstAt);
  }

  /** Whether items wait for their quiet period to end. */
  get pending(): boolean {
    return this.#pending.size > 0;
  }

  /** Cancels the quiet period and returns what was waiting (to hand it to a successor). */
  take(): { items: Set<T>; firstAt: number } | undefined {
    const items = this.#pending;
    const firstAt = this.#firstAt;
    this.cancel();
    return items.size > 0 && firstAt !== undefined ? { items, firstAt } : undefined;
  }

  cancel(): void {
    if (this.#timer !== undefined) this.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#pending = new Set();
    this.#firstAt = undefined;
  }
}
