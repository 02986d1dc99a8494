import type { Clock } from '../clock.js';

/**
 * @parcel/watcher reports the first event after a quiet spell at once and the rest of a
 * burst (a checkout, a formatter) in a batch 50 ms later, which a busy event loop may
 * handle later still: a quiet period shorter than 100 ms would build the first file of a
 * burst alone (measured: 60 ms gave 1.5–1.75 builds per service for a 20-service burst).
 * 0 stays 0: the user asked for no wait at all.
 */
export const WATCHER_BATCH_MS = 100;
/**
 * Node's timers count whole milliseconds: setTimeout(50) may run 49.7 ms later by
 * performance.now(). Input that recent is not "within the quiet period".
 */
export const TIMER_SLACK_MS = 1;
/** Inputs to two different files less than this apart are one burst. */
export const BURST_GAP_MS = 200;
/** Inside a burst, the tree counts as quiet only after this long without input or writes. */
export const BURST_QUIET_MS = 150;
/** A file written again and again (a log caught by the globs) must not hold builds off forever; a checkout of 5,000 files on a slow disk takes ~3.5 s here, and is one burst. */
export const MAX_SETTLE_MS = 10_000;
/** Coarse file timestamps: a write this close to the last event may be that event's own. */
export const MTIME_SLACK_MS = 10;

/** The debounce a detector waits after the last event before it looks at the tree. */
export function quietPeriod(debounceMs: number): number {
  return debounceMs === 0 ? 0 : Math.max(debounceMs, WATCHER_BATCH_MS);
}

/** What the tree looked like when a quiet period ended. */
export interface TreeLook {
  /** Milliseconds since the newest write to a changed file or a directory holding one. */
  readonly newestWriteAgoMs: number;
  /**
   * Of those, the directories alone (when looked at apart): a file created there writes
   * its directory before the watcher reports it. A changed file written after its own
   * event is the same save finishing (a truncate reported before the write), no burst.
   */
  readonly newestDirectoryWriteAgoMs?: number;
  /** A known input was written after the last event the watcher reported. */
  readonly writtenSinceLastEvent: boolean;
  /** New directories are still being listed: their files are not in the change set yet. */
  readonly listingNewDirectories?: boolean;
}

/** wait: look again after another quiet period; settled: hand the change on; forced: hand it on although the tree is still busy (it settled for MAX_SETTLE_MS). */
export type Verdict = 'wait' | 'settled' | 'forced';

/**
 * When a burst of file events has settled: the rules of docs/watching.md ("From events
 * to one build"), as pure logic over an injected clock. The detector feeds it events and
 * what the tree looks like; it decides.
 *
 * @example
 *   const rules = new BurstRules(50, clock);
 *   rules.input(['/app/main.go']);        // an event
 *   rules.judge(firstAt, { newestWriteAgoMs: 400, writtenSinceLastEvent: false }); // 'settled' once quiet
 */
export class BurstRules {
  #lastInputAt = -Infinity;
  #lastInputWall = -Infinity;
  #inBurst = false;
  /** The input paths since the last gap: one file's events, however many, are one save. */
  #spell = new Set<string>();

  constructor(
    private readonly debounceMs: number,
    private readonly clock: Clock,
  ) {}

  /**
   * Input events arrived (a batch's input paths, or created directories). A second file
   * within BURST_GAP_MS makes a burst; the same file again does not: an editor's atomic
   * save (temp file renamed over it) or a shell's truncate-then-write is one save.
   *
   * Returns true for a repeat: a batch of files already in hand, which the watcher held
   * back up to 50 ms. A repeat does not start the quiet period over (the files' own
   * mtimes show a write still going on); it only moves "the last event" for the check
   * of inputs written since.
   */
  input(paths: readonly string[]): boolean {
    if (paths.length === 0) return false;
    const now = this.clock.now();
    this.#lastInputWall = this.clock.wall();
    const gap = now - this.#lastInputAt >= BURST_GAP_MS;
    if (!gap && paths.every((path) => this.#spell.has(path))) return true;
    if (gap) this.#spell.clear();
    for (const path of paths) this.#spell.add(path);
    if (this.#spell.size > 1) this.#inBurst = true;
    this.#lastInputAt = now;
    return false;
  }

  /** A new directory, or many files in one batch: a checkout or an unpack is landing. */
  markBurst(): void {
    this.#inBurst = true;
  }

  get inBurst(): boolean {
    return this.#inBurst;
  }

  /** Wall time of the last input, from which "written since the last event" is measured. */
  get writesCountAfter(): number {
    return this.#lastInputWall + MTIME_SLACK_MS;
  }

  /** How long the tree must have been still: the debounce, or BURST_QUIET_MS inside a burst. */
  get quietMs(): number {
    return this.#inBurst && this.debounceMs > 0 ? Math.max(this.debounceMs, BURST_QUIET_MS) : this.debounceMs;
  }

  /**
   * Whether a change first seen at `firstAt` may be handed on early, before the quiet
   * period is over: an isolated save (no burst so far) with a debounce to wait. Its build
   * starts now; the change is confirmed at the quiet period, or cancelled by more changes.
   */
  early(firstAt: number): boolean {
    return this.debounceMs > 0 && this.debounceMs < WATCHER_BATCH_MS && !this.#inBurst && this.clock.now() - firstAt < quietPeriod(this.debounceMs);
  }

  /** Whether a change first seen at `firstAt` is ready to hand on, given what the tree looks like now. */
  judge(firstAt: number, look: TreeLook): Verdict {
    const now = this.clock.now();
    const quiet = this.quietMs;
    const heldBack = this.#heldBack(look);
    const busy = heldBack || now - this.#lastInputAt < quiet - TIMER_SLACK_MS || look.newestWriteAgoMs < quiet;
    // Busy without new events: the watcher is holding a burst back.
    if (heldBack && !this.#inBurst && now - this.#lastInputAt >= quiet - TIMER_SLACK_MS) this.#inBurst = true;
    if (busy && now - firstAt < MAX_SETTLE_MS) return 'wait';
    // Handed on because it settled too long, the burst may go on: its rest is still a burst.
    if (!busy) this.#inBurst = false;
    return busy ? 'forced' : 'settled';
  }

  /**
   * After a 'wait': how long until the tree can have been quiet for the quiet period, so
   * a save still being written is looked at again as soon as its write is old enough
   * rather than a whole debounce later. Held back by the watcher: a whole quiet period.
   */
  remainingMs(look: TreeLook): number {
    const quiet = this.quietMs;
    if (this.#heldBack(look)) return quiet;
    const sinceInput = this.clock.now() - this.#lastInputAt;
    return Math.min(quiet, Math.max(1, quiet - sinceInput, quiet - look.newestWriteAgoMs));
  }

  /**
   * Writes the watcher has not reported: new directories still listed, inputs written
   * after the last event (the watcher reports the first change of a burst at once, then
   * holds the rest back until writes pause, up to 500 ms), or a directory written within
   * the quiet period (a new file there, not reported yet). A directory written as the
   * event came (a save renamed into place writes it) is that event's own write: the look
   * comes a quiet period after the event, so its age is the quiet period give or take the
   * timestamps' coarseness (MTIME_SLACK_MS).
   */
  #heldBack(look: TreeLook): boolean {
    const quiet = this.quietMs;
    return (
      look.listingNewDirectories === true ||
      (this.debounceMs > 0 && look.writtenSinceLastEvent) ||
      (look.newestDirectoryWriteAgoMs ?? look.newestWriteAgoMs) < quiet - MTIME_SLACK_MS
    );
  }
}
