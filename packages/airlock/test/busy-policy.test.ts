import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { OnBusy } from '../src/config/schema.ts';
import { BusyPolicy } from '../src/pipeline/busy-policy.ts';
import { FakeClock } from './support/fake-clock.ts';

/**
 * Builds of `buildMs` on a fake clock, a newer change every `saveEveryMs`: which builds
 * complete. Each build starts when the one before it ends (cancelled or completed), as
 * the scheduler runs them.
 */
function simulate(mode: OnBusy, buildMs: number, saveEveryMs: number, forMs: number) {
  const clock = new FakeClock();
  const busy = new BusyPolicy(() => mode, clock);
  // The first build (at start-up) completed: the usual build time is known.
  busy.started();
  clock.advance(buildMs);
  busy.ended('completed');
  const completedAt: number[] = [];
  let buildStart = 0;
  let nextSave = 0;
  let pending = false;
  let building = false;
  for (let t = 0; t <= forMs + 4 * buildMs; t++) {
    clock.advance(t === 0 ? 0 : 1);
    if (t === nextSave && t <= forMs) {
      nextSave += saveEveryMs;
      if (building && busy.newerChange().cancel) {
        busy.ended('cancelled');
        building = false;
      }
      pending = true;
    }
    if (building && t - buildStart >= buildMs) {
      busy.ended('completed');
      building = false;
      completedAt.push(t);
    }
    if (!building && pending) {
      pending = false;
      building = true;
      buildStart = t;
      busy.started();
    }
  }
  const lastSave = Math.floor(forMs / saveEveryMs) * saveEveryMs;
  return { completedAt, duringSaves: completedAt.filter((t) => t <= forMs).length, newestServedAfterMs: (completedAt.at(-1) as number) - lastSave };
}

describe('a newer change and the build under way (fake clock)', () => {
  for (const [share, saveEveryMs] of [
    ['0.5×', 500],
    ['1.5×', 1_500],
    ['0.3×', 300],
    ['0.1×', 100],
  ] as const) {
    it(`auto never starves: saves every ${share} the build time ship builds, the newest within two build times`, () => {
      const result = simulate('auto', 1_000, saveEveryMs, 30_000);
      assert.ok(result.duringSaves >= 10, `builds completed during 30 s of saves: ${result.duringSaves}`);
      assert.ok(result.newestServedAfterMs <= 2_000, `newest save built ${result.newestServedAfterMs} ms after it`);
    });
  }

  it('restart starves when saves come faster than the build (why it is not the default)', () => {
    assert.equal(simulate('restart', 1_000, 500, 30_000).duringSaves, 0);
  });

  it('queue finishes every build', () => {
    const result = simulate('queue', 1_000, 500, 10_000);
    assert.ok(result.duringSaves >= 9);
  });

  it('cancels a young build for the newest change, and says once why it keeps an older one', () => {
    const clock = new FakeClock();
    const busy = new BusyPolicy(() => 'auto', clock);
    busy.started();
    clock.advance(1_000);
    busy.ended('completed');
    assert.equal(busy.usualMs, 1_000);
    busy.started();
    clock.advance(200);
    assert.deepEqual(busy.newerChange(), { cancel: true }, '200 ms of a usual 1 s: the newest change builds now');
    busy.ended('completed');
    busy.started();
    clock.advance(600);
    assert.deepEqual(busy.newerChange(), { cancel: false, why: 'it has run 600 ms of a usual 1.0 s' });
    assert.deepEqual(busy.newerChange(), { cancel: false, why: undefined }, 'said once per build');
  });

  it('does not cancel twice in a row, even before any build completed', () => {
    const busy = new BusyPolicy(() => 'auto', new FakeClock());
    busy.started();
    assert.equal(busy.newerChange().cancel, true);
    busy.ended('cancelled');
    busy.started();
    assert.deepEqual(busy.newerChange(), { cancel: false, why: 'the build before it was cancelled too' });
  });

  it('a failed build is not a usual build time', () => {
    const clock = new FakeClock();
    const busy = new BusyPolicy(() => 'auto', clock);
    busy.started();
    clock.advance(50);
    busy.ended('failed');
    assert.equal(busy.usualMs, undefined);
  });
});
