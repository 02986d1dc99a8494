import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { afterFailedStart, afterServingFailure, CRASH_LOOP_STARTS } from '../src/pipeline/failure-policy.ts';

describe('failure policy', () => {
  it('rolls back to the previous artifact within the rollback window, else restarts', () => {
    const facts = { sinceSwapMs: 1_500, rollbackWindowMs: 30_000, previous: 'a.g3', failed: 'a.g4' };
    assert.deepEqual(afterServingFailure(facts), { kind: 'rollback', artifact: 'a.g3' });
    assert.deepEqual(afterServingFailure({ ...facts, sinceSwapMs: 30_001 }), { kind: 'restart' });
    assert.deepEqual(afterServingFailure({ ...facts, previous: undefined }), { kind: 'restart' });
    assert.deepEqual(afterServingFailure({ ...facts, previous: 'a.g4' }), { kind: 'restart' }, 'the same artifact is no rollback');
  });

  it('keeps the old generation after a failed start, retries when nothing serves, and names a crash loop', () => {
    assert.deepEqual(afterFailedStart({ somethingRuns: true, failedInARow: 5 }), { kind: 'keep-old' });
    assert.deepEqual(afterFailedStart({ somethingRuns: false, failedInARow: 1 }), { kind: 'retry', crashLoop: false });
    assert.deepEqual(afterFailedStart({ somethingRuns: false, failedInARow: CRASH_LOOP_STARTS }), { kind: 'retry', crashLoop: true });
  });
});
