import type { ServicePlan } from '../config/plan.js';
import { fullCode, type ErrorCode } from '../errors.js';
import type { EventBus } from '../events.js';
import type { Generation } from '../swap/generation.js';
import type { Handoff } from '../swap/handoff.js';
import { reuse, type ArtifactSource, type NewArtifacts } from './artifact-source.js';
import { afterFailedStart, afterServingFailure } from './failure-policy.js';
import type { ReloadScheduler } from './reload-scheduler.js';

export interface RecoveryContext {
  readonly bus: EventBus;
  readonly plan: () => ServicePlan;
  readonly scheduler: ReloadScheduler<ArtifactSource>;
  readonly handoff: Pick<Handoff, 'unavailable'>;
  /** The service's own source: what a restart or rollback falls back on when nothing exists to reuse. */
  readonly source: NewArtifacts;
  /** The generation that last took traffic, running or not. */
  readonly current: () => Generation | undefined;
  readonly stopped: () => boolean;
}

/**
 * Carries out the failure policy for one service: says what failed (reload.failed,
 * rollback, process.restarting), and asks the scheduler for what comes next (a retry
 * after a backoff, or the previous artifact back).
 *
 * @example
 *   recovery.failedStart(4, 'HEALTH_FAILED', 'not ready within 30000 ms: GET /healthz → 500', tail, 30_000, source);
 */
export class Recovery {
  /** Starts that failed one after another with nothing serving. */
  #failedInARow = 0;

  constructor(private readonly context: RecoveryContext) {}

  /** The generation that serves now: the current one, while it runs. */
  #serving(): Generation | undefined {
    const current = this.context.current();
    return current !== undefined && current.child.end === undefined ? current : undefined;
  }

  /** A generation took traffic: failed starts are counted from zero again. */
  served(): void {
    this.#failedInARow = 0;
  }

  /** `; g3 (pid 123) keeps serving` while a generation runs, for failure messages. */
  keeps(verb: 'running' | 'serving'): string {
    const serving = this.#serving();
    return serving ? `; g${serving.n} (pid ${serving.child.pid}) keeps ${verb}` : '';
  }

  /** A reload that started nothing: said once; with nothing serving, tried again with backoff (a crash loop answers held requests at once). */
  failedStart(n: number, code: ErrorCode, detail: string, tail: readonly string[], ranMs: number, source: ArtifactSource): void {
    const { bus, plan } = this.context;
    const message = `g${n}: ${detail}${this.keeps('serving')}`;
    bus.emit({ type: 'reload.failed', service: plan().name, generation: n, code: fullCode(code), message, tail });
    const somethingRuns = this.#serving() !== undefined;
    if (!somethingRuns) this.#failedInARow += 1;
    const next = afterFailedStart({ somethingRuns, failedInARow: this.#failedInARow });
    if (next.kind === 'keep-old') return;
    if (next.crashLoop) this.context.handoff.unavailable(`${plan().name} is crash-looping: ${message}`);
    this.#retry(n, ranMs, `retry after g${n}: ${detail}`, source, () => this.#serving() !== undefined);
  }

  /**
   * A generation that took traffic and then failed: within the rollback window the
   * previous artifact comes back without a rebuild (returns true: it is used up); later,
   * the same artifact restarts with backoff.
   */
  servingFailed(failed: Generation, why: string, previous: string | undefined, nextN: number): boolean {
    const { bus, plan, scheduler, source } = this.context;
    const sinceSwapMs = performance.now() - (failed.promotedAt ?? failed.startedAt);
    const next = afterServingFailure({ sinceSwapMs, rollbackWindowMs: plan().health.rollbackWindowMs, previous, failed: failed.artifact });
    if (next.kind === 'rollback') {
      const message = `g${failed.n} failed ${Math.round(sinceSwapMs)} ms after it took traffic (${why}); rolling back to the previous build`;
      bus.emit({ type: 'rollback', service: plan().name, generation: nextN, failed: failed.n, code: fullCode('ROLLED_BACK'), message });
      scheduler.request([`rollback from g${failed.n}`], reuse(source, next.artifact));
      return true;
    }
    // A reload done meanwhile brought its own new generation.
    this.#retry(failed.n, performance.now() - failed.startedAt, `restart after g${failed.n} ${why}`, reuse(source), () => this.context.current() !== failed);
    return false;
  }

  #retry(n: number, ranMs: number, reason: string, source: ArtifactSource, obsolete: () => boolean): void {
    if (this.context.stopped()) return;
    const delayMs = this.context.scheduler.retryLater(ranMs, reason, source, obsolete);
    this.context.bus.emit({ type: 'process.restarting', service: this.context.plan().name, generation: n, delayMs });
  }
}
