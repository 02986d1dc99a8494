import type { RolloutPlan } from '../config/plan.js';
import { errorRateConfidence, score } from './compare.js';
import type { WindowFigures } from './stats.js';

/** How sure the window is that the canary's error rate is above the stable one's, and the window's score (0..100). */
export interface Comparison {
  readonly confidence: number;
  readonly score: number;
}

export type Verdict =
  | ({ readonly kind: 'pass'; readonly reason: string } & Partial<Comparison>)
  | ({ readonly kind: 'fail'; readonly reason: string } & Partial<Comparison>)
  | { readonly kind: 'inconclusive'; readonly reason: string };

/** The z-test speaks only from this many canary errors on (the normal approximation's rule of thumb); below, only the absolute guard does. */
export const MIN_ERRORS_FOR_TEST = 5;

const percent = (rate: number) => `${(rate * 100).toFixed(rate < 0.1 ? 2 : 1)} %`;
const ms = (value: number) => `${value < 10 ? value.toFixed(1) : Math.round(value)} ms`;

/**
 * One analysis window's verdict, canary against stable over the same window. Too few
 * canary requests decide nothing (inconclusive: the step holds, it neither promotes nor
 * rolls back). Otherwise the canary fails on its error rate above the absolute guard
 * (maxErrorRate); on its error rate above the stable one's with `analysis.confidence` by a
 * one-sided two-proportion z-test (once it has MIN_ERRORS_FOR_TEST errors and the stable
 * side minRequests requests); or on its p99 exceeding the stable one by more than allowed,
 * judged on the p99s' confidence intervals when the window has them (the canary's lowest
 * plausible p99 against the stable one's highest).
 * `baselineP99Ms` stands in for the stable p99 when the stable side had too few requests
 * itself (at 100 % it gets none). Pass and statistical fail verdicts carry the confidence
 * that the canary is worse and the window's score.
 *
 * @example
 *   judge(canary, stable, plan.analysis, undefined); // { kind: 'fail', reason: 'error rate 5.00 % > 1.00 % (12 of 240)' }
 */
export function judge(canary: WindowFigures, stable: WindowFigures, analysis: RolloutPlan['analysis'], baselineP99Ms: number | undefined): Verdict {
  if (canary.requests < analysis.minRequests) {
    return { kind: 'inconclusive', reason: `${canary.requests} canary requests in the window, fewer than minRequests ${analysis.minRequests}` };
  }
  if (canary.errorRate > analysis.maxErrorRate) {
    return { kind: 'fail', reason: `error rate ${percent(canary.errorRate)} > ${percent(analysis.maxErrorRate)} (${canary.errors} of ${canary.requests})` };
  }
  const compared = stable.requests >= analysis.minRequests;
  const confidence = compared ? errorRateConfidence(canary, stable) : 0.5;
  const comparison = { confidence, score: score(confidence) };
  if (compared && canary.errors >= MIN_ERRORS_FOR_TEST && confidence >= (analysis.confidence ?? 0.999)) {
    return { kind: 'fail', reason: `error rate ${percent(canary.errorRate)} (${canary.errors} of ${canary.requests}) vs stable ${percent(stable.errorRate)} (${stable.errors} of ${stable.requests}): higher with ${(confidence * 100).toFixed(2)} % confidence`, ...comparison };
  }
  const stableP99 = stable.requests >= analysis.minRequests ? stable.p99Ms : baselineP99Ms;
  const canaryP99 = canary.p99Ms as number;
  // With the p99s' confidence intervals (when the window has them): the canary's p99 at its
  // lowest against the stable one's at its highest, so a small window's noise aborts nothing.
  const canaryLow = canary.p99LowMs ?? canaryP99;
  const stableHigh = compared ? (stable.p99HighMs ?? stableP99) : stableP99;
  if (stableP99 !== undefined && stableHigh !== undefined && canaryLow - stableHigh > analysis.maxP99IncreaseMs) {
    const sure = canary.p99LowMs === undefined ? '' : ` (at ${((analysis.confidence ?? 0.999) * 100).toFixed(1)} %: canary p99 ≥ ${ms(canaryLow)}, stable p99 ≤ ${ms(stableHigh)})`;
    return { kind: 'fail', reason: `p99 ${ms(canaryP99)} vs stable ${ms(stableP99)}: +${ms(canaryP99 - stableP99)} > ${analysis.maxP99IncreaseMs} ms${sure}`, ...comparison };
  }
  const latency = stableP99 === undefined ? `p99 ${ms(canaryP99)} (no stable p99 to compare)` : `p99 ${ms(canaryP99)} vs stable ${ms(stableP99)}`;
  return { kind: 'pass', reason: `error rate ${percent(canary.errorRate)} (${canary.errors} of ${canary.requests}), ${latency}`, ...comparison };
}
