import { bucketOf } from '../rollout/bucket.js';

/**
 * The hosts on the canary at a step: the share of live hosts nearest `percent` (at least
 * one), chosen by the canary's stable bucketing over host ids (MurmurHash3 of
 * "SERVICE/VERSION:HOST"), so the same hosts go first whoever computes it, and a later
 * step only adds hosts to the ones already on it (in the order they joined).
 *
 * @example
 *   cohortFor(['a', 'b', 'c'], [], 34, 'web', 7);    // one host
 *   cohortFor(['a', 'b', 'c'], ['b'], 100, 'web', 7); // ['b', …the other two]
 */
export function cohortFor(live: readonly string[], previous: readonly string[], percent: number, service: string, version: number): string[] {
  const wanted = Math.min(live.length, Math.max(1, Math.round((percent * live.length) / 100)));
  const cohort = [...previous];
  let onIt = previous.filter((host) => live.includes(host)).length;
  const order = [...live].sort((a, b) => bucketOf(a, `${service}/${version}`) - bucketOf(b, `${service}/${version}`) || a.localeCompare(b));
  for (const host of order) {
    if (onIt >= wanted) break;
    if (cohort.includes(host)) continue;
    cohort.push(host);
    onIt += 1;
  }
  return cohort;
}
