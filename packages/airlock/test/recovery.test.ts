import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ServicePlan } from '../src/config/plan.ts';
import { Builds, reuse, type ArtifactSource } from '../src/pipeline/artifact-source.ts';
import { Recovery } from '../src/pipeline/recovery.ts';
import { ReloadScheduler, type Reload } from '../src/pipeline/reload-scheduler.ts';
import { EventBus, type AirlockEvent } from '../src/events.ts';
import type { Generation } from '../src/swap/generation.ts';
import { FakeClock } from './support/fake-clock.ts';

const plan = { name: 'api', artifact: undefined, health: { rollbackWindowMs: 30_000 } } as unknown as ServicePlan;

/** A generation as Recovery sees it: its number, artifact and times. */
function generation(n: number, artifact: string, promotedAt: number): Generation {
  return { n, artifact, promotedAt, startedAt: promotedAt, child: { pid: 100 + n, end: { kind: 'exit', code: 2 } } } as unknown as Generation;
}

function harness(current: () => Generation | undefined) {
  const clock = new FakeClock();
  const bus = new EventBus();
  const events: AirlockEvent[] = [];
  bus.subscribe((event) => events.push(event));
  const runs: Reload<ArtifactSource>[] = [];
  const scheduler = new ReloadScheduler<ArtifactSource>(
    { run: async (reload) => void runs.push(reload), supersede: () => undefined, merge: (_, incoming) => incoming, failed: (error) => assert.fail(String(error)) },
    clock,
  );
  const unavailable: string[] = [];
  const recovery = new Recovery({
    bus,
    plan: () => plan,
    scheduler,
    handoff: { unavailable: (reason) => unavailable.push(reason) },
    source: new Builds(() => plan, bus, undefined),
    current,
    stopped: () => false,
  });
  return { clock, events, runs, unavailable, recovery };
}

describe('recovery (fake clock)', () => {
  it('restarts a generation that exited after it took traffic, after the backoff', () => {
    const failed = generation(3, 'bin/api.g3', performance.now() - 60_000);
    const h = harness(() => failed);
    assert.equal(h.recovery.servingFailed(failed, 'exited with code 2', 'bin/api.g2', 4), false, 'outside the rollback window');
    assert.deepEqual(h.events.map((e) => e.type), ['process.restarting']);
    h.clock.advance(500);
    assert.equal(h.runs.length, 1, 'the restart ran although the failed generation no longer runs');
    assert.deepEqual([...(h.runs[0]?.reasons ?? [])], ['restart after g3 exited with code 2']);
  });

  it('skips the restart when another generation took over meanwhile', () => {
    const failed = generation(3, 'bin/api.g3', performance.now() - 60_000);
    let current: Generation | undefined = failed;
    const h = harness(() => current);
    h.recovery.servingFailed(failed, 'exited with code 2', undefined, 4);
    current = generation(4, 'bin/api.g4', performance.now());
    h.clock.advance(500);
    assert.equal(h.runs.length, 0);
  });

  it('rolls back within the window to the previous artifact, at once', async () => {
    const failed = generation(5, 'bin/api.g5', performance.now() - 1_000);
    const h = harness(() => failed);
    assert.equal(h.recovery.servingFailed(failed, '2 probes failed in a row', 'bin/api.g4', 6), true);
    const rollback = h.events.find((e) => e.type === 'rollback');
    assert.match((rollback as { message: string }).message, /^g5 failed \d+ ms after it took traffic \(2 probes failed in a row\); rolling back to the previous build$/);
    assert.equal(h.runs.length, 1);
    assert.deepEqual([...(h.runs[0]?.reasons ?? [])], ['rollback from g5']);
    assert.deepEqual(await h.runs[0]?.source.obtain({ n: 6, signal: new AbortController().signal, fileEnv: {}, inUse: [], same: 'bin/api.g5', keeps: '' }), { ok: true, artifact: 'bin/api.g4' });
  });

  it('says a failed start once, retries while nothing serves, and from the third in a row answers held requests with the reason', () => {
    const h = harness(() => undefined);
    for (let n = 1; n <= 3; n++) {
      h.recovery.failedStart(n, 'PROCESS_CRASHED', 'exited with code 1 before it was ready', [], 5, reuse(new Builds(() => plan, new EventBus(), undefined)));
      h.clock.advance(60_000);
    }
    assert.equal(h.events.filter((e) => e.type === 'reload.failed').length, 3);
    assert.deepEqual(h.unavailable, ['api is crash-looping: g3: exited with code 1 before it was ready']);
    h.recovery.served();
    h.recovery.failedStart(4, 'PROCESS_CRASHED', 'exited with code 1 before it was ready', [], 5, reuse(new Builds(() => plan, new EventBus(), undefined)));
    assert.equal(h.unavailable.length, 1, 'counted from zero after a generation served');
  });
});
