import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { HealthPlan } from '../src/config/plan.ts';
import { waitUntilReady } from '../src/health/monitor.ts';
import type { Supervised } from '../src/supervise/spawn.ts';

describe('a generation paused in a debugger while it starts', () => {
  it('is not failed by startTimeout for the time it was held', async () => {
    let held = true;
    const child = {
      pid: 1,
      spawned: Promise.resolve(true),
      ended: new Promise(() => undefined),
      end: undefined,
      control: { held: () => held },
    } as unknown as Supervised;
    const health = { startTimeoutMs: 300, intervalMs: 20, maxGrowthMBps: undefined } as unknown as HealthPlan;
    // Paused (at a breakpoint in its start-up code) for twice its start timeout, then it answers.
    setTimeout(() => (held = false), 700);
    const verdict = await waitUntilReady({ child, health, probe: async () => ({ ok: !held, detail: held ? 'paused' : 'ok' }) });
    assert.deepEqual(verdict, { ready: true, detail: 'ok' });
  });

  it('still times out when nothing holds it', async () => {
    const child = { pid: 1, spawned: Promise.resolve(true), ended: new Promise(() => undefined), end: undefined } as unknown as Supervised;
    const health = { startTimeoutMs: 150, intervalMs: 20, maxGrowthMBps: undefined } as unknown as HealthPlan;
    const verdict = await waitUntilReady({ child, health, probe: async () => ({ ok: false, detail: 'not yet' }) });
    assert.equal(verdict.ready ? 'ready' : verdict.reason, 'timeout');
  });
});
