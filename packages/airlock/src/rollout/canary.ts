import type { Clock } from '../clock.js';
import type { RolloutPlan } from '../config/plan.js';
import { fullCode } from '../errors.js';
import type { AirlockEvent, RolloutWindow } from '../events.js';
import { judge, type Comparison } from './analysis.js';

export type RolloutEvent = Extract<AirlockEvent, { type: `rollout.${string}` }>;

/** Windows in a row with canary requests hanging and too few answered: a canary that does not answer is aborted, not held. */
export const STUCK_WINDOWS = 3;

/** running: analysed each interval; paused: held by hand; promoted / aborted: over. */
export type RolloutState = 'running' | 'paused' | 'promoted' | 'aborted';

/** Where one rollout stands, for `airlock rollout status` and the control API. */
export interface RolloutStatus {
  readonly canary: number;
  readonly stable: number;
  readonly group: string;
  readonly state: RolloutState;
  readonly share: number;
  /** 1-based step and the number of steps. */
  readonly step: number;
  readonly steps: readonly number[];
  /** Failed windows so far, of failureLimit allowed. */
  readonly failedWindows: number;
  readonly failureLimit: number;
  /** The window under way (running), or the one that decided the end. */
  readonly window: RolloutWindow;
  readonly lastDecision: { readonly type: RolloutEvent['type']; readonly reason: string; readonly at: string } | undefined;
  /** The last judged window: the confidence that the canary's error rate is above the stable one's, and its score (0..100). */
  readonly comparison?: Comparison;
}

export interface RolloutHooks {
  /** The canary's share changed (percent of users). */
  share(percent: number): void;
  /** Passed at 100 % (or promoted by hand): the canary takes all traffic, the stable one drains. */
  promote(): void;
  /** Rolled back: every user is on the stable side again; the canary is to drain and stop, its build marked bad. */
  abort(reason: string): void;
  emit(event: RolloutEvent): void;
}

export interface RolloutWindows {
  peek(): RolloutWindow;
  take(): RolloutWindow;
}

export interface RolloutOptions {
  readonly service: string;
  readonly plan: RolloutPlan;
  readonly clock: Clock;
  readonly windows: RolloutWindows;
  readonly canary: number;
  readonly stable: number;
  readonly group: string;
  readonly hooks: RolloutHooks;
}

/**
 * One canary rollout's steps and decisions, on an injected clock. It starts at the first
 * step; every interval it closes a window and judges it (analysis.ts): a pass moves to the
 * next step (at 100 % it promotes), too few requests hold the step, and a failed window
 * beyond failureLimit aborts. By hand: promote (next step, or --full), abort, pause,
 * resume. Each transition is one event with its reason and the window behind it.
 *
 * @example
 *   const rollout = new CanaryRollout({ service: 'api', plan: plan.rollout, clock: realClock, windows: stats, canary: 5, stable: 4, group: 'api', hooks });
 *   rollout.start();
 *   rollout.promote(false); // next step now
 */
export class CanaryRollout {
  #step = 0;
  #state: RolloutState = 'running';
  #failed = 0;
  #timer: unknown;
  /** The last stable p99 from a window with enough stable requests: the baseline once the stable side gets (almost) none. */
  #baselineP99: number | undefined;
  #lastWindow: RolloutWindow | undefined;
  #lastDecision: RolloutStatus['lastDecision'];
  #comparison: Comparison | undefined;
  /** Inconclusive windows in a row while canary requests hang. */
  #stuck = 0;

  constructor(private readonly options: RolloutOptions) {}

  get state(): RolloutState {
    return this.#state;
  }

  get share(): number {
    return this.#state === 'aborted' ? 0 : this.#state === 'promoted' ? 100 : (this.options.plan.steps[this.#step] as number);
  }

  get over(): boolean {
    return this.#state === 'promoted' || this.#state === 'aborted';
  }

  /** The first step: the canary gets its first share of users. */
  start(reason = `g${this.options.canary} is ready: its rollout against g${this.options.stable} begins`): void {
    this.#enterStep(0, reason, undefined);
  }

  /** The next step now (or, `full`, all users and promoted), without waiting for the analysis. */
  promote(full: boolean, reason = 'promoted by hand'): void {
    if (this.over) return;
    const last = this.options.plan.steps.length - 1;
    if (full || this.#step === last) return this.#promote(reason, undefined);
    this.options.windows.take();
    this.#enterStep(this.#step + 1, reason, undefined);
  }

  /** Rolls back now: share 0, then the hooks drain the canary and mark its build bad. */
  abort(reason: string, window?: RolloutWindow): void {
    if (this.over) return;
    this.#clearTimer();
    this.#state = 'aborted';
    this.#lastWindow = window ?? this.options.windows.peek();
    this.options.hooks.share(0);
    this.#say({ type: 'rollout.aborted', code: fullCode('ROLLOUT_ABORTED'), reason, ...(window ? { window } : {}) });
    this.options.hooks.abort(reason);
  }

  pause(reason = 'paused by hand; `airlock rollout resume` goes on'): void {
    if (this.#state !== 'running') return;
    this.#clearTimer();
    this.#state = 'paused';
    this.#say({ type: 'rollout.held', reason });
  }

  /** Goes on from the step it is on, with a fresh window. */
  resume(reason = 'resumed by hand'): void {
    if (this.#state !== 'paused') return;
    this.#state = 'running';
    this.options.windows.take();
    this.#enterStep(this.#step, reason, undefined);
  }

  /** Stops deciding without a verdict (a newer canary replaced this one, or airlock stops). */
  end(): void {
    this.#clearTimer();
  }

  status(): RolloutStatus {
    const { canary, stable, group, plan } = this.options;
    return {
      canary,
      stable,
      group,
      state: this.#state,
      share: this.share,
      step: this.#step + 1,
      steps: plan.steps,
      failedWindows: this.#failed,
      failureLimit: plan.analysis.failureLimit,
      window: this.over && this.#lastWindow ? this.#lastWindow : this.options.windows.peek(),
      lastDecision: this.#lastDecision,
      ...(this.#comparison ? { comparison: this.#comparison } : {}),
    };
  }

  #enterStep(step: number, reason: string, window: RolloutWindow | undefined): void {
    this.#step = step;
    this.options.hooks.share(this.share);
    this.#say({ type: 'rollout.step', step: step + 1, steps: this.options.plan.steps.length, reason, ...(window ? { window } : {}) });
    this.#schedule();
  }

  #promote(reason: string, window: RolloutWindow | undefined): void {
    this.#clearTimer();
    this.#state = 'promoted';
    this.#lastWindow = window ?? this.options.windows.peek();
    this.options.hooks.share(100);
    this.#say({ type: 'rollout.promoted', reason, ...(window ? { window } : {}) });
    this.options.hooks.promote();
  }

  #schedule(): void {
    this.#clearTimer();
    if (this.#state !== 'running') return;
    this.#timer = this.options.clock.setTimeout(() => this.#analyse(), this.options.plan.intervalMs);
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) this.options.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #analyse(): void {
    this.#timer = undefined;
    if (this.#state !== 'running') return;
    const { plan } = this.options;
    const window = this.options.windows.take();
    const verdict = judge(window.canary, window.stable, plan.analysis, this.#baselineP99);
    if (verdict.kind !== 'inconclusive' && verdict.confidence !== undefined && verdict.score !== undefined) this.#comparison = { confidence: verdict.confidence, score: verdict.score };
    if (window.stable.requests >= plan.analysis.minRequests) this.#baselineP99 = window.stable.p99Ms;
    if (verdict.kind === 'inconclusive') {
      const hanging = window.canary.stillHanging ?? 0;
      this.#stuck = hanging > 0 ? this.#stuck + 1 : 0;
      if (this.#stuck >= STUCK_WINDOWS) return this.abort(`${hanging} canary requests open past the latency bound and ${window.canary.requests - (window.canary.hanging ?? 0)} answered, ${this.#stuck} windows in a row: the canary does not answer`, window);
      this.#say({ type: 'rollout.held', reason: `${verdict.reason}${hanging > 0 ? ` (${hanging} hanging)` : ''}: holding at ${this.share} %`, window });
      return this.#schedule();
    }
    this.#stuck = 0;
    if (verdict.kind === 'fail') {
      this.#failed += 1;
      if (this.#failed > plan.analysis.failureLimit) return this.abort(`${verdict.reason}; failed window ${this.#failed}, failureLimit ${plan.analysis.failureLimit}`, window);
      this.#say({ type: 'rollout.held', reason: `${verdict.reason}; failed window ${this.#failed} of ${plan.analysis.failureLimit} allowed: holding at ${this.share} %`, window });
      return this.#schedule();
    }
    if (this.#step === plan.steps.length - 1) return this.#promote(`${verdict.reason}: passed at 100 %`, window);
    this.#enterStep(this.#step + 1, verdict.reason, window);
  }

  #say(event: Omit<RolloutEvent, 'service' | 'canary' | 'stable' | 'share'> & Partial<RolloutEvent>): void {
    const { service, canary, stable } = this.options;
    const full = { service, canary, stable, share: this.share, ...event } as RolloutEvent;
    this.#lastDecision = { type: full.type, reason: full.reason, at: new Date(this.options.clock.wall()).toISOString() };
    this.options.hooks.emit(full);
  }
}
