/**
 * What a service does after one of its generations failed, decided from the facts alone
 * (the pipeline carries it out).
 */

/** After three failed starts in a row with nothing serving, the service counts as crash-looping. */
export const CRASH_LOOP_STARTS = 3;

export type AfterServing = { readonly kind: 'rollback'; readonly artifact: string } | { readonly kind: 'restart' };

/**
 * A generation that took traffic and then failed (crash, probes, memory): within the
 * rollback window the previous artifact comes back without a rebuild; later, or with no
 * other artifact to go back to, the same artifact restarts with backoff.
 *
 * @example
 *   afterServingFailure({ sinceSwapMs: 1_500, rollbackWindowMs: 30_000, previous: 'bin/api.g3', failed: 'bin/api.g4' });
 *   // { kind: 'rollback', artifact: 'bin/api.g3' }
 */
export function afterServingFailure(facts: { sinceSwapMs: number; rollbackWindowMs: number; previous: string | undefined; failed: string | undefined }): AfterServing {
  const { previous } = facts;
  if (facts.sinceSwapMs <= facts.rollbackWindowMs && previous !== undefined && previous !== facts.failed) return { kind: 'rollback', artifact: previous };
  return { kind: 'restart' };
}

export type AfterStart = { readonly kind: 'keep-old' } | { readonly kind: 'retry'; readonly crashLoop: boolean };

/**
 * A new generation that never became ready (or a reload that could not start one): while
 * an older generation serves it keeps all traffic and nothing is retried (the next change
 * brings a new version); with nothing serving, the start is retried with backoff, and
 * from the CRASH_LOOP_STARTS-th failure in a row the service counts as crash-looping.
 *
 * @example
 *   afterFailedStart({ somethingRuns: false, failedInARow: 3 }); // { kind: 'retry', crashLoop: true }
 */
export function afterFailedStart(facts: { somethingRuns: boolean; failedInARow: number }): AfterStart {
  if (facts.somethingRuns) return { kind: 'keep-old' };
  return { kind: 'retry', crashLoop: facts.failedInARow >= CRASH_LOOP_STARTS };
}
