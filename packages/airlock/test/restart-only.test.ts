import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { changedPathsEnv, CHANGED_PATHS_MAX } from '../src/config/changed-paths.ts';
import type { ServicePlan } from '../src/config/plan.ts';
import { splitRestartOnly } from '../src/detect/restart-only.ts';
import { ReloadScheduler, type Reload } from '../src/pipeline/reload-scheduler.ts';
import { FakeClock } from './support/fake-clock.ts';

describe('watch.restartOnly: which changes need a build', () => {
  it('splits changed paths by the globs', () => {
    assert.deepEqual(splitRestartOnly(['templates/a.html', 'main.go', 'static/css/x.css'], ['templates/**', 'static/**']), {
      build: ['main.go'],
      restart: ['templates/a.html', 'static/css/x.css'],
    });
    assert.deepEqual(splitRestartOnly(['main.go'], []), { build: ['main.go'], restart: [] });
  });

  it('never calls a file the build reads restart-only (a template embedded with //go:embed)', () => {
    const embedded = new Set(['templates/a.html']);
    assert.deepEqual(splitRestartOnly(['templates/a.html', 'templates/b.html'], ['templates/**'], embedded), { build: ['templates/a.html'], restart: ['templates/b.html'] });
  });
});

describe('AIRLOCK_CHANGED_PATHS', () => {
  const plan = { dir: '/repo/cmd/api', watch: { root: '/repo' } } as unknown as ServicePlan;

  it('lists the changed files relative to the service dir, with the count', () => {
    assert.deepEqual(changedPathsEnv(plan, new Set(['cmd/api/main.go', 'lib/x.go'])), { AIRLOCK_CHANGED_PATHS: 'main.go\n../../lib/x.go', AIRLOCK_CHANGED_COUNT: '2' });
  });

  it('caps a checkout of thousands of files and says how many there were', () => {
    const many = new Set(Array.from({ length: 5000 }, (_, i) => `cmd/api/f${String(i).padStart(4, '0')}.go`));
    const env = changedPathsEnv(plan, many);
    assert.equal(env.AIRLOCK_CHANGED_PATHS?.split('\n').length, CHANGED_PATHS_MAX);
    assert.equal(env.AIRLOCK_CHANGED_COUNT, '5000');
  });

  it('is not set for a reload no file change asked for', () => {
    assert.deepEqual(changedPathsEnv(plan, new Set()), {});
  });

  it('joins the changed paths of coalesced requests', async () => {
    const runs: Reload<string>[] = [];
    const finish: (() => void)[] = [];
    const scheduler = new ReloadScheduler<string>(
      { run: (reload) => (runs.push(reload), new Promise((resolve) => finish.push(() => resolve()))), supersede: () => undefined, merge: (_p, incoming) => incoming, failed: () => undefined },
      new FakeClock(),
    );
    scheduler.request(['start'], 'build');
    scheduler.request(['a.go'], 'build', undefined, undefined, ['a.go']);
    scheduler.request(['b.go'], 'build', undefined, undefined, ['b.go']);
    finish.shift()?.();
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual([...(runs[1]?.changed ?? [])], ['a.go', 'b.go']);
    assert.deepEqual([...(runs[0]?.changed ?? [])], []);
    finish.shift()?.();
    await scheduler.stop();
  });
});
