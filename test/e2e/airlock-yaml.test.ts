import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { setTimeout } from 'node:timers/promises';
import { Load } from '../../scripts/http-load.ts';
import { AirlockRun, CLI, freePort, getOnce, isAlive, isPortFree, removeProject, ROOT, tempProject, type JsonEvent, cleanupAfter } from './helpers.ts';

const APP = join(ROOT, 'test', 'fixtures', 'env-app.mjs');

interface Shape {
  greeting: string;
  jobBuild: string;
  extraPort?: number;
  /** A misspelt key, to make the edit invalid. */
  typo?: boolean;
}

function airlockYaml(webPort: number, shape: Shape): string {
  const lines = [
    'services:',
    '  web:',
    `    run: { cmd: node ${APP}, env: { GREETING: ${shape.greeting} } }`,
    `    listen: ${webPort}`,
    '    handoff: proxy',
    '    watch: { include: ["*.mjs"] }',
    '  job:',
    // Watches everything, airlock.yaml included: its edits must still not rebuild it.
    `    ${shape.typo ? 'bulid' : 'build'}: { cmd: "${shape.jobBuild}" }`,
    `    run: { cmd: "node -e 'setInterval(() => {}, 1000)'" }`,
    '    watch: { include: ["**/*"] }',
  ];
  if (shape.extraPort !== undefined) {
    lines.push('  extra:', `    run: { cmd: node ${APP}, env: { GREETING: extra } }`, `    listen: ${shape.extraPort}`);
  }
  return `${lines.join('\n')}\n`;
}

const started = (events: readonly JsonEvent[], type: string) => events.filter((e) => e.type === type).map((e) => e.service);

describe('editing airlock.yaml while airlock dev runs', () => {
  const cleanup = cleanupAfter();

  it('adds, changes and removes services, refuses an invalid edit, and never fails a request of the services it leaves alone', async () => {
    const dir = tempProject();
    cleanup(() => removeProject(dir));
    const [webPort, firstExtraPort, extraPort] = [await freePort(), await freePort(), await freePort()];
    const file = join(dir, 'airlock.yaml');
    writeFileSync(file, airlockYaml(webPort, { greeting: 'one', jobBuild: 'echo job-v1' }));
    const run = new AirlockRun(['dev', '--log-format', 'json'], dir);
    cleanup(() => run.kill());
    const webFirst = await run.waitForEvent('reload.ready', { service: 'web', generation: 1 }, 30_000, 0);
    const jobFirst = await run.waitForEvent('reload.ready', { service: 'job', generation: 1 }, 30_000, 0);
    const load = new Load(webPort, 4);
    cleanup(() => load.stop());
    await load.until('one');

    // Added: starts; nothing else restarts or rebuilds.
    let since = run.events.length;
    writeFileSync(file, airlockYaml(webPort, { greeting: 'one', jobBuild: 'echo job-v1', extraPort: firstExtraPort }));
    const added = await run.waitForEvent('airlock-yaml.applied', {}, 30_000, since);
    assert.deepEqual(added.added, ['extra']);
    await run.waitForEvent('reload.ready', { service: 'extra' }, 30_000, since);
    assert.match((await getOnce(firstExtraPort)) ?? '', /^extra/);
    assert.deepEqual(started(run.events.slice(since), 'process.started'), ['extra']);
    assert.deepEqual(started(run.events.slice(since), 'build.started'), []);

    // A new address: the service starts again there, and the old port is freed.
    since = run.events.length;
    writeFileSync(file, airlockYaml(webPort, { greeting: 'one', jobBuild: 'echo job-v1', extraPort }));
    const moved = await run.waitForEvent('airlock-yaml.applied', {}, 30_000, since);
    assert.deepEqual(moved.changed, [{ service: 'extra', change: 'replace' }]);
    const extraReady = await run.waitForEvent('reload.ready', { service: 'extra' }, 30_000, since);
    assert.match((await getOnce(extraPort)) ?? '', /^extra/);
    // The old address served until the new one was ready; then it is closed.
    for (let i = 0; i < 200 && !isPortFree(firstExtraPort); i++) await setTimeout(25);
    assert.ok(isPortFree(firstExtraPort));
    assert.deepEqual(started(run.events.slice(since), 'process.started'), ['extra']);

    // A changed build command rebuilds that service only.
    since = run.events.length;
    writeFileSync(file, airlockYaml(webPort, { greeting: 'one', jobBuild: 'echo job-v2', extraPort }));
    const rebuilt = await run.waitForEvent('airlock-yaml.applied', {}, 30_000, since);
    assert.deepEqual(rebuilt.changed, [{ service: 'job', change: 'rebuild' }]);
    const jobSecond = await run.waitForEvent('reload.ready', { service: 'job' }, 30_000, since);
    assert.notEqual(jobSecond.pid, jobFirst.pid);
    assert.deepEqual(started(run.events.slice(since), 'build.started'), ['job']);
    assert.ok(run.events.slice(since).some((e) => e.type === 'build.output' && e.line === 'job-v2'));

    // Changed run settings: a new generation of the same build, through the proxy (no failed request).
    since = run.events.length;
    writeFileSync(file, airlockYaml(webPort, { greeting: 'two', jobBuild: 'echo job-v2', extraPort }));
    await load.until('two');
    const restarted = await run.waitForEvent('airlock-yaml.applied', {}, 30_000, since);
    assert.deepEqual(restarted.changed, [{ service: 'web', change: 'restart' }]);
    assert.deepEqual(started(run.events.slice(since), 'build.started'), []);
    assert.deepEqual(started(run.events.slice(since), 'process.started'), ['web']);

    // Invalid: reported with its line, nothing changes, status shows it.
    since = run.events.length;
    writeFileSync(file, airlockYaml(webPort, { greeting: 'three', jobBuild: 'echo job-v3', extraPort, typo: true }));
    const rejected = await run.waitForEvent('airlock-yaml.rejected', {}, 30_000, since);
    assert.equal(rejected.code, 'AIRLOCK_ERR_CONFIG_INVALID');
    assert.ok(
      (rejected.details as string[]).some((line) => /^airlock\.yaml:8:5: .*"bulid".*did you mean "build"/.test(line)),
      JSON.stringify(rejected.details),
    );
    const status = spawnSync(process.execPath, [CLI, 'status'], { cwd: dir, encoding: 'utf8' });
    assert.equal(status.status, 0, status.stderr);
    assert.match(status.stdout, /airlock\.yaml: edit rejected, services run as before: airlock\.yaml:8:5/);
    assert.deepEqual(started(run.events.slice(since), 'process.started'), []);
    assert.ok(!load.seen.has('three'));

    // An editor that keeps a backup: the file is renamed away, written anew, the backup deleted.
    // This save removes extra: it stops and frees its port; web and job keep their processes.
    since = run.events.length;
    const webNow = [...run.events].reverse().find((e) => e.type === 'reload.ready' && e.service === 'web')?.pid as number;
    renameSync(file, `${file}~`);
    await setTimeout(300);
    writeFileSync(file, airlockYaml(webPort, { greeting: 'two', jobBuild: 'echo job-v2' }));
    unlinkSync(`${file}~`);
    const removed = await run.waitForEvent('airlock-yaml.applied', {}, 30_000, since);
    assert.deepEqual(removed.removed, ['extra']);
    assert.deepEqual(removed.changed, []);
    await run.waitForEvent('process.exited', { service: 'extra' }, 30_000, since);
    assert.ok(!isAlive(extraReady.pid as number));
    assert.ok(isPortFree(extraPort));
    assert.ok(isAlive(webNow) && isAlive(jobSecond.pid as number));
    assert.equal(run.events.slice(since).filter((e) => e.type === 'airlock-yaml.rejected').length, 0, 'the missing moment is not an error');
    const after = JSON.parse(spawnSync(process.execPath, [CLI, 'status', '--json'], { cwd: dir, encoding: 'utf8' }).stdout);
    assert.deepEqual(
      after.services.map((s: { name: string }) => s.name),
      ['web', 'job'],
    );
    assert.equal(after.configRejected, undefined);

    await load.stop();
    assert.deepEqual(load.failures, []);
    assert.notEqual(webFirst.pid, webNow);
  });
});
