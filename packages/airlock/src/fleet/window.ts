import type { WindowFigures } from '../rollout/stats.js';
import { LatencyHistogram } from '../rollout/latency.js';
import type { Heartbeat } from './heartbeat.js';

/** The z of a one-sided 99.9 % confidence interval (the canary's analysis default). */
const Z = 3.09;

/** Each host's figures at one moment: a window's start or end. */
export type FleetSnapshot = ReadonlyMap<string, Heartbeat['figures']>;

export function snapshotOf(beats: readonly Heartbeat[]): FleetSnapshot {
  return new Map(beats.map((beat) => [beat.host, beat.figures]));
}

/**
 * The merged figures of `hosts` over a window: each host's end minus its start (the
 * whole end when its generation changed in between: its counts began again), added up,
 * in the shape the canary's judge takes.
 *
 * @example
 *   const canary = mergedWindow(['host-a'], start, end, 7);
 */
export function mergedWindow(hosts: readonly string[], start: FleetSnapshot, end: FleetSnapshot, version: number): WindowFigures {
  const histogram = new LatencyHistogram();
  let requests = 0;
  let errors = 0;
  for (const host of hosts) {
    const last = end.get(host);
    if (last === undefined) continue;
    const first = start.get(host);
    const same = first !== undefined && first.generation === last.generation;
    requests += last.requests - (same ? first.requests : 0);
    errors += last.errors - (same ? first.errors : 0);
    histogram.addSparse(last.histogram);
    if (same) histogram.addSparse(first.histogram, -1);
  }
  const bounds = histogram.quantileBounds(0.99, Z);
  return {
    generation: version,
    requests,
    errors,
    errorRate: requests === 0 ? 0 : errors / requests,
    p50Ms: histogram.quantile(0.5),
    p99Ms: histogram.quantile(0.99),
    ...(bounds === undefined ? {} : { p99LowMs: bounds.low, p99HighMs: bounds.high }),
  };
}
