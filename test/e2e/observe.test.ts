import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { AirlockRun, CLI, freePort, getOnce, removeProject, ROOT, tempProject, cleanupAfter } from './helpers.ts';

const APP = join(ROOT, 'test', 'fixtures', 'slow-ws-app.mjs');

function airlock(args: readonly string[], cwd: string) {
  const result = spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' }, timeout: 30_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** The value of one sample line of the Prometheus text, or undefined. */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && want.every((label) => l.includes(label)));
  return line === undefined ? undefined : Number(line.split(' ').pop());
}

describe('status, reload and metrics of a running airlock', () => {
  const cleanup = cleanupAfter();

  it('reports what runs, reloads on request, counts reloads and failed builds, and keeps its socket private', async () => {
    const dir = tempProject();
    cleanup(() => removeProject(dir));
    const port = await freePort();
    const metricsPort = await freePort();
    writeFileSync(
      join(dir, 'airlock.yaml'),
      [
        'services:',
        '  app:',
        `    build: { cmd: "test ! -f ${join(dir, 'break')}" }`,
        `    run: { cmd: node ${APP} }`,
        `    listen: ${port}`,
        '    handoff: proxy',
        `metrics: { listen: 127.0.0.1:${metricsPort} }`,
        '',
      ].join('\n'),
    );
    const run = new AirlockRun(['run', '--log-format', 'json'], dir);
    cleanup(() => run.kill());
    const first = await run.waitForEvent('reload.ready', { generation: 1 }, 30_000);

    const socket = join(dir, '.airlock', 'control.sock');
    assert.equal(statSync(socket).mode & 0o777, 0o600, 'only the owner can use the control socket');

    const status = airlock(['status', '--json'], dir);
    assert.equal(status.code, 0, status.stderr);
    const services = JSON.parse(status.stdout).services as { name: string; pid: number; generation: number; state: string }[];
    assert.deepEqual(services.map((s) => [s.name, s.state, s.generation, s.pid]), [['app', 'ready', 1, first.pid]]);
    assert.match(airlock(['status'], dir).stdout, /^SERVICE\s+STATE\s+GEN\s+PID[\s\S]*\napp\s+ready\s+g1\s+\d+/);

    for (const generation of [2, 3]) {
      const reload = airlock(['reload', 'app'], dir);
      assert.equal(reload.code, 0, reload.stderr);
      assert.equal(reload.stdout, 'reloading: app\n');
      await run.waitForEvent('reload.ready', { generation }, 30_000);
    }
    assert.equal(airlock(['reload', 'nope'], dir).code, 1);
    writeFileSync(join(dir, 'break'), '');
    assert.equal(airlock(['reload'], dir).code, 0);
    const failed = await run.waitForEvent('build.failed', {}, 30_000);
    for (let i = 0; i < 5; i++) assert.match(String(await getOnce(port)), /^generation 3/);
    // status shows the failed build beside the generation that keeps serving.
    const shown = airlock(['status'], dir).stdout;
    assert.match(shown, /\napp\s+ready\s+g3\s/);
    assert.ok(shown.includes(`\napp: last reload failed: g${failed.generation} ${failed.message} [AIRLOCK_ERR_BUILD_FAILED]`), shown);

    const text = String(await getOnce(metricsPort, '/metrics'));
    assert.equal(sample(text, 'airlock_reloads_total', { service: 'app', result: 'success' }), 3);
    assert.equal(sample(text, 'airlock_reloads_total', { service: 'app', result: 'build_failed' }), 1);
    assert.equal(sample(text, 'airlock_generations', { service: 'app', state: 'ready' }), 1);
    assert.equal(sample(text, 'airlock_reload_phase_seconds_count', { service: 'app', phase: 'build' }), 3);
    const buildSeconds = sample(text, 'airlock_reload_phase_seconds_sum', { service: 'app', phase: 'build' }) ?? -1;
    assert.ok(buildSeconds > 0 && buildSeconds < 30, `plausible build time: ${buildSeconds}`);
    assert.ok((sample(text, 'airlock_proxy_requests_total', { service: 'app', generation: '3', code: '200' }) ?? 0) >= 5);

    const { code } = await run.interrupt();
    assert.equal(code, 0);
    assert.equal(airlock(['status'], dir).code, 1, 'nothing runs any more');
  });
});
