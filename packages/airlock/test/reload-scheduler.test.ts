import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ReloadScheduler, type Reload } from '../src/pipeline/reload-scheduler.ts';
import { FakeClock } from './support/fake-clock.ts';

type Source = 'build' | 'reuse';

/** A scheduler whose runs finish when the test says so. */
function harness() {
  const clock = new FakeClock();
  const runs: Reload<Source>[] = [];
  const finish: (() => void)[] = [];
  let superseded = 0;
  const failures: unknown[] = [];
  const scheduler = new ReloadScheduler<Source>(
    {
      run: (reload) => {
        runs.push(reload);
        if (reload.reasons.has('throw')) return Promise.reject(new Error('boom'));
        return new Promise((resolve) => finish.push(resolve));
      },
      supersede: () => superseded++,
      merge: (pending, incoming) => (pending === 'build' || incoming === 'build' ? 'build' : incoming),
      failed: (error) => failures.push(error),
    },
    clock,
  );
  const settle = () => new Promise((resolve) => setImmediate(resolve));
  return { clock, runs, finish, failures, scheduler, settle, superseded: () => superseded };
}

describe('reload scheduler (fake clock)', () => {
  it('runs one reload at a time; requests meanwhile coalesce into one next reload and cancel the build', async () => {
    const h = harness();
    h.scheduler.request(['start'], 'build');
    h.scheduler.request(['a.go'], 'reuse', 5);
    h.scheduler.request(['b.go'], 'reuse', 9);
    assert.equal(h.runs.length, 1);
    assert.equal(h.superseded(), 2, 'each request during a run supersedes it');
    h.finish.shift()?.();
    await h.settle();
    assert.equal(h.runs.length, 2);
    assert.deepEqual([...(h.runs[1]?.reasons ?? [])], ['a.go', 'b.go']);
    assert.equal(h.runs[1]?.detectStartedAt, 5, 'the first detect time is kept');
    h.finish.shift()?.();
    await h.settle();
    assert.equal(h.scheduler.busy, false);
  });

  it('lets a build win over a reuse when they coalesce, and a later reuse replace an earlier one', async () => {
    const h = harness();
    h.scheduler.request(['start'], 'build');
    h.scheduler.request(['env changed'], 'reuse');
    h.scheduler.request(['main.go'], 'build');
    h.scheduler.request(['env again'], 'reuse');
    h.finish.shift()?.();
    await h.settle();
    assert.equal(h.runs[1]?.source, 'build');
  });

  it('retries after a backoff that doubles, and starts over after a long run', () => {
    const h = harness();
    assert.equal(h.scheduler.retryLater(0, 'crash 1', 'reuse', () => false), 500);
    h.clock.advance(499);
    assert.equal(h.runs.length, 0);
    h.clock.advance(1);
    assert.equal(h.runs.length, 1);
    assert.deepEqual([...(h.runs[0]?.reasons ?? [])], ['crash 1']);
    assert.equal(h.scheduler.retryLater(0, 'crash 2', 'reuse', () => false), 1_000);
    assert.equal(h.scheduler.retryLater(10_000, 'after a long run', 'reuse', () => false), 500);
  });

  it('skips a retry when a reload runs by then or it became obsolete', async () => {
    const h = harness();
    h.scheduler.retryLater(0, 'retry', 'reuse', () => false);
    h.scheduler.request(['a.go'], 'build');
    h.clock.advance(500);
    assert.equal(h.runs.length, 1, 'the retry found a reload running');
    h.finish.shift()?.();
    await h.settle();
    let obsolete = true;
    h.scheduler.retryLater(0, 'retry', 'reuse', () => obsolete);
    h.clock.advance(1_000);
    assert.equal(h.runs.length, 1);
    obsolete = false;
    h.scheduler.cancelRetry();
    assert.equal(h.clock.pending, 0);
  });

  it('reports a run that throws and goes on with the next', async () => {
    const h = harness();
    h.scheduler.request(['throw'], 'build');
    await h.settle();
    assert.equal((h.failures[0] as Error).message, 'boom');
    h.scheduler.request(['next'], 'build');
    assert.equal(h.runs.length, 2);
  });

  it('starts nothing once stopped, and waits for the reload under way', async () => {
    const h = harness();
    h.scheduler.request(['start'], 'build');
    h.scheduler.request(['queued'], 'build');
    const stopped = h.scheduler.stop();
    h.finish.shift()?.();
    await stopped;
    assert.equal(h.runs.length, 1, 'the queued reload never ran');
    h.scheduler.request(['late'], 'build');
    h.scheduler.retryLater(0, 'late retry', 'reuse', () => false);
    h.clock.advance(1_000);
    assert.equal(h.runs.length, 1);
  });
});
