import type { Clock } from '../clock.js';
import { quietPeriod, type BurstRules, type TreeLook } from '../watch/burst.js';
import { Provisional } from './provisional.js';

export interface EarlyContext {
  readonly clock: Clock;
  readonly burst: BurstRules;
  readonly debounceMs: number;
  /** Events waiting in the debounce or a quiet period being handled: a confirmation waits for them. */
  readonly waiting: () => boolean;
  /** What the tree looks like now, the whole-tree write check included. */
  readonly look: (paths: readonly string[]) => Promise<TreeLook>;
  /** An unexpected failure while confirming: reported, never thrown. */
  readonly failed: (error: unknown) => void;
}

/**
 * The early hand-off of an isolated save (docs/watching.md): a change handed on at the
 * debounce, before the burst rules' quiet period is over, stays open until those rules
 * confirm the tree settled with nothing more; a content change before then cancels it
 * (and carries its paths on). One open change at a time.
 *
 * @example
 *   const early = new EarlyChanges({ clock, burst, debounceMs: 50, waiting, look, failed });
 *   const provisional = early.open(['/app/main.go'], firstAt); // handed on with the change
 *   const cancelled = early.cancel();                         // a real change came first
 */
export class EarlyChanges {
  #open: Provisional | undefined;
  #timer: unknown;

  constructor(private readonly context: EarlyContext) {}

  /** Opens an early change; it is confirmed at the end of the quiet period counted from `firstAt`, or later. */
  open(changed: readonly string[], firstAt: number): Provisional {
    const provisional = new Provisional(changed, firstAt);
    this.#open = provisional;
    const { clock, debounceMs } = this.context;
    this.#schedule(provisional, Math.max(0, firstAt + quietPeriod(debounceMs) - clock.now()));
    return provisional;
  }

  /** A real change arrived before the open one was confirmed: it is cancelled, and returned so its paths go on. */
  cancel(): Provisional | undefined {
    const open = this.#close();
    open?.cancel();
    return open;
  }

  /** The detector retires: nothing will confirm the open change now, so it counts as settled. */
  confirmNow(): void {
    this.#close()?.confirm();
  }

  /** airlock stops: a reload waiting on the open change ends. */
  drop(): void {
    this.#close()?.drop();
  }

  #close(): Provisional | undefined {
    const open = this.#open;
    if (this.#timer !== undefined) this.context.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#open = undefined;
    return open;
  }

  #schedule(provisional: Provisional, ms: number): void {
    this.#timer = this.context.clock.setTimeout(() => {
      this.#timer = undefined;
      this.#check(provisional).catch(this.context.failed);
    }, ms);
  }

  /**
   * The burst rules' verdict at the end of their quiet period: settled with nothing more
   * to handle confirms it; events still waiting or being handled, or a busy tree, look
   * again after another quiet period (a content change among them cancels it).
   */
  async #check(provisional: Provisional): Promise<void> {
    if (this.#open !== provisional) return;
    const look = await this.context.look(provisional.changed);
    if (this.#open !== provisional) return;
    const { burst } = this.context;
    if (!this.context.waiting() && burst.judge(provisional.firstAt, look) !== 'wait') {
      this.#close();
      provisional.confirm();
      return;
    }
    this.#schedule(provisional, Math.max(burst.quietMs, 10));
  }
}
