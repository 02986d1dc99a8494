import type { RolloutPlan } from '../config/plan.js';
import type { WindowFigures } from './stats.js';

export type Verdict =
  | { readonly kind: 'pass'; readonly reason: string }
  | { readonly kind: 'fail'; readonly reason: string }
  | { readonly kind: 'inconclusive'; readonly reason: string };

const percent = (rate: number) => `${(rate * 100).toFixed(rate < 0.1 ? 2 : 1)} %`;
const ms = (value: number) => `${value < 10 ? value.toFixed(1) : Math.round(value)} ms`;

/**
 * One analysis window's verdict, canary against stable over the same window. Too few
 * canary requests decide nothing (inconclusive: the step holds, it neither promotes nor
 * rolls back). Otherwise the canary fails on its error rate, or on its p99 exceeding the
 * stable one by more than allowed; `baselineP99Ms` stands in for the stable p99 when the
 * stable side had too few requests itself (at 100 % it gets none).
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
  const stableP99 = stable.requests >= analysis.minRequests ? stable.p99Ms : baselineP99Ms;
  const canaryP99 = canary.p99Ms as number;
  if (stableP99 !== undefined && canaryP99 - stableP99 > analysis.maxP99IncreaseMs) {
    return { kind: 'fail', reason: `p99 ${ms(canaryP99)} vs stable ${ms(stableP99)}: +${ms(canaryP99 - stableP99)} > ${analysis.maxP99IncreaseMs} ms` };
  }
  const latency = stableP99 === undefined ? `p99 ${ms(canaryP99)} (no stable p99 to compare)` : `p99 ${ms(canaryP99)} vs stable ${ms(stableP99)}`;
  return { kind: 'pass', reason: `error rate ${percent(canary.errorRate)} (${canary.errors} of ${canary.requests}), ${latency}` };
}
