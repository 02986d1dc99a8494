import { realClock, type Clock } from '../clock.js';
import type { OnBusy } from '../config/schema.js';

/** Builds remembered for "the usual build time". */
const RECENT_BUILDS = 5;
/** Under `auto`, a build that has run this share of the usual build time finishes. */
const FINISH_SHARE = 0.5;

export type BusyVerdict = { readonly cancel: true } | { readonly cancel: false; readonly why: string };

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

/**
 * Whether a newer change cancels the build under way. Under `auto` it does, so the
 * newest change builds at once, unless the build has run half the usual build time (the
 * median of the last five that completed), or the build before it was cancelled: then it
 * finishes and swaps while the newer change waits. At most one build in a row is thrown
 * away, so at any save rate every second build ships, and the newest save serves within
 * about two build times of the last one (docs/watching.md).
 *
 * @example
 *   const busy = new BusyPolicy(() => plan.watch.onBusy);
 *   busy.started();
 *   const verdict = busy.newerChange(); // { cancel: true } at first
 *   busy.ended(verdict.cancel ? 'cancelled' : 'completed');
 */
export class BusyPolicy {
  readonly #recent: number[] = [];
  #startedAt: number | undefined;
  #cancelledLast = false;
  /** Said once per build: a build kept through several saves is one notice. */
  #kept = false;

  constructor(
    private readonly mode: () => OnBusy,
    private readonly clock: Clock = realClock,
  ) {}

  /** A build (or a download: any artifact being obtained) began. */
  started(): void {
    this.#startedAt = this.clock.now();
    this.#kept = false;
  }

  /** The build ended: a completed one counts toward the usual build time; a failed one is neither. */
  ended(how: 'completed' | 'cancelled' | 'failed'): void {
    const startedAt = this.#startedAt;
    this.#startedAt = undefined;
    if (how === 'completed' && startedAt !== undefined) {
      this.#recent.push(this.clock.now() - startedAt);
      if (this.#recent.length > RECENT_BUILDS) this.#recent.shift();
    }
    this.#cancelledLast = how === 'cancelled';
  }

  /** The usual build time (ms), once a build completed. */
  get usualMs(): number | undefined {
    return this.#recent.length === 0 ? undefined : median(this.#recent);
  }

  /**
   * A newer change arrived while the build runs. `why` is set the first time a build is
   * kept (for a notice); later saves during the same build keep it without a word.
   */
  newerChange(): BusyVerdict | { readonly cancel: false; readonly why: undefined } {
    const startedAt = this.#startedAt;
    if (startedAt === undefined) return { cancel: true };
    const mode = this.mode();
    if (mode === 'restart') return { cancel: true };
    const ranMs = this.clock.now() - startedAt;
    const usual = this.usualMs;
    let why: string | undefined;
    if (mode === 'queue') why = 'watch.onBusy is queue';
    else if (this.#cancelledLast) why = 'the build before it was cancelled too';
    else if (usual !== undefined && ranMs >= usual * FINISH_SHARE) why = `it has run ${seconds(ranMs)} of a usual ${seconds(usual)}`;
    if (why === undefined) return { cancel: true };
    if (this.#kept) return { cancel: false, why: undefined };
    this.#kept = true;
    return { cancel: false, why };
  }
}

function seconds(ms: number): string {
  return ms < 1_000 ? `${Math.round(ms)} ms` : `${(ms / 1_000).toFixed(1)} s`;
}
