import { realClock, type Clock } from '../clock.js';
import { Backoff } from '../supervise/backoff.js';
import type { DetectTiming } from '../detect/changes.js';

/** One reload to run: why, since when (for the detect phase), and where its artifact comes from. */
export interface Reload<S> {
  readonly reasons: ReadonlySet<string>;
  readonly detectStartedAt: number;
  readonly source: S;
  /** How the change that asked for it was detected (the first request's, when they coalesce). */
  readonly timing?: DetectTiming;
  /** The source paths whose change asked for it (relative to the watch root), of every request coalesced. */
  readonly changed: ReadonlySet<string>;
}

export interface SchedulerHooks<S> {
  /** Runs one reload; the next one waits until it is done. */
  run(reload: Reload<S>): Promise<void>;
  /** A request arrived while a reload runs: cancel what can be cancelled (a build). */
  supersede(): void;
  /** Which source a coalesced reload uses when requests with two sources meet. */
  merge(pending: S, incoming: S): S;
  /** A run threw: it is reported there; the scheduler goes on with the next. */
  failed(error: unknown): void;
}

/**
 * When a service's reloads run: one at a time; requests that arrive meanwhile coalesce
 * into one next reload (their reasons joined, the first detect time kept) and cancel a
 * build under way; a retry after a crash or a failed start waits a backoff (0.5 s doubling
 * to 30 s) and is skipped when a reload runs by then or it became obsolete. Pure logic
 * over an injected clock.
 *
 * @example
 *   const scheduler = new ReloadScheduler({ run, supersede: () => build.abort(), merge, failed }, realClock);
 *   scheduler.request(['main.go'], 'build');
 *   const delayMs = scheduler.retryLater(120, 'restart after g3 crashed', 'reuse', () => false);
 */
export class ReloadScheduler<S> {
  #pending: { reasons: Set<string>; detectStartedAt: number; source: S; timing?: DetectTiming; changed: Set<string> } | undefined;
  #loop: Promise<void> | undefined;
  #retryTimer: unknown;
  #stopped = false;

  constructor(
    private readonly hooks: SchedulerHooks<S>,
    private readonly clock: Clock = realClock,
    private readonly backoff = new Backoff(),
  ) {}

  /** True while a reload runs (or waits to run). */
  get busy(): boolean {
    return this.#loop !== undefined;
  }

  request(reasons: readonly string[], source: S, detectStartedAt = this.clock.now(), timing?: DetectTiming, changed: readonly string[] = []): void {
    if (this.#stopped) return;
    const pending = this.#pending;
    if (pending === undefined) this.#pending = { reasons: new Set(reasons), detectStartedAt, source, timing, changed: new Set(changed) };
    else {
      for (const reason of reasons) pending.reasons.add(reason);
      for (const path of changed) pending.changed.add(path);
      pending.source = this.hooks.merge(pending.source, source);
      // The newest request decides whether the coalesced reload waits for a confirmation.
      if (pending.timing?.provisional !== undefined) {
        const { provisional: _early, ...settled } = pending.timing;
        pending.timing = timing?.provisional ? { ...settled, provisional: timing.provisional } : settled;
      }
    }
    if (this.#loop !== undefined) this.hooks.supersede();
    this.#loop ??= this.#drain().finally(() => (this.#loop = undefined));
  }

  async #drain(): Promise<void> {
    while (this.#pending !== undefined && !this.#stopped) {
      const reload = this.#pending;
      this.#pending = undefined;
      try {
        await this.hooks.run(reload);
      } catch (error) {
        this.hooks.failed(error);
      }
    }
  }

  /**
   * Requests `source` again after a backoff (the generation that failed ran `ranMs`: a
   * long run starts the backoff over). Skipped when a reload runs by then, or `obsolete`
   * says something else took its place. Returns the delay.
   */
  retryLater(ranMs: number, reason: string, source: S, obsolete: () => boolean): number {
    const delayMs = this.backoff.next(ranMs);
    if (this.#stopped) return delayMs;
    this.cancelRetry();
    this.#retryTimer = this.clock.setTimeout(() => {
      this.#retryTimer = undefined;
      if (this.#loop !== undefined || obsolete()) return;
      this.request([reason], source);
    }, delayMs);
    return delayMs;
  }

  cancelRetry(): void {
    if (this.#retryTimer !== undefined) this.clock.clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
  }

  /** A new version gets a fresh backoff; a crash-restarted one keeps counting. */
  resetBackoff(): void {
    this.backoff.reset();
  }

  /** No reload starts from now on; resolves when the one under way is done. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.cancelRetry();
    await this.#loop;
  }
}
