import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { bucketOf } from '../../packages/airlock/src/rollout/bucket.ts';
import { KeyedLoad } from '../../scripts/keyed-load.ts';
import { AirlockRun, CLI, ROOT, cleanupAfter, freePort, removeProject, tempProject } from './helpers.ts';

/**
 * Rollouts nobody can game, through the real proxy: forced requests and clients that give
 * up are never judged, keys are hashed as the UTF-8 the client sent, a rolled-back build
 * stays refused after a restart, and a canary that never answers is not held forever.
 * The app is the plain canary fixture (no airlock helper).
 */
const APP = join(ROOT, 'test', 'fixtures', 'canary-app.mjs');
const GROUP = 'trust';

function yaml(port: number, extra = ''): string {
  return `services:
  web:
    build: { cmd: "cp behaviour.json {artifact}" }
    run: { cmd: "node app.mjs {artifact}" }
    watch: { include: [behaviour.json] }
    listen: 127.0.0.1:${port}
    health: { http: { path: /healthz } }
    stop: { drain: 2s }
    rollout:
      strategy: canary
      steps: [10, 100]
      interval: 1s
      key: header:x-user-id
      group: ${GROUP}
      debugHeaders: true
      analysis: { minRequests: 20, maxErrorRate: 0.01, maxP99IncreaseMs: 100 }
${extra}`;
}

function behave(dir: string, behaviour: { version: string; errorEvery?: number; delayMs?: number }): void {
  writeFileSync(join(dir, 'behaviour.json'), JSON.stringify(behaviour));
}

function cli(dir: string, ...args: string[]) {
  return spawnSync(process.execPath, [CLI, ...args], { cwd: dir, encoding: 'utf8' });
}

/** One GET with headers (values as raw bytes: a string of Latin-1 characters) on a fresh connection. */
function getWith(port: number, headers: Record<string, string>, path = '/', abortAfterMs?: number): Promise<{ status: number; body: string; generation: string | undefined } | undefined> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, generation: res.headers['x-airlock-generation'] as string | undefined }));
      res.on('error', () => resolve(undefined));
    });
    req.on('error', () => resolve(undefined));
    if (abortAfterMs !== undefined) setTimeout(() => req.destroy(), abortAfterMs);
    req.end();
  });
}

describe('rollouts nobody can game', () => {
  const cleanup = cleanupAfter();

  async function start(mode: 'dev' | 'run', extra = '', behaviour: Parameters<typeof behave>[1] = { version: 'v1' }) {
    const dir = tempProject();
    cleanup(() => removeProject(dir));
    copyFileSync(APP, join(dir, 'app.mjs'));
    behave(dir, behaviour);
    const port = await freePort();
    writeFileSync(join(dir, 'airlock.yaml'), yaml(port, extra));
    const run = new AirlockRun([mode, '--log-format', 'json'], dir);
    cleanup(() => run.kill());
    await run.waitForEvent('reload.ready', { generation: 1 }, 60_000);
    return { dir, port, run };
  }

  it('aborts a failing canary although a client floods it with forced /healthz requests; forced answers are counted apart', async () => {
    const { dir, port, run } = await start('dev');
    const load = new KeyedLoad(port, { users: 400 });
    cleanup(() => load.stop());
    // Twelve loops of forced /healthz requests: without the rule they would drown the canary's errors.
    let flooding = true;
    const flood = Promise.all(
      Array.from({ length: 12 }, async () => {
        while (flooding) await getWith(port, { 'x-airlock-canary': 'always', 'x-user-id': 'tester' }, '/healthz');
      }),
    );
    const since = run.events.length;
    behave(dir, { version: 'v2', errorEvery: 20 });
    const decided = await run.waitForMatch((e) => (e.type === 'rollout.aborted' || e.type === 'rollout.promoted') && e.canary === 2, 60_000, since);
    flooding = false;
    await flood;
    assert.equal(decided.type, 'rollout.aborted', JSON.stringify(decided));
    const aborted = decided;
    await load.stop();
    assert.match(String(aborted.reason), /^error rate \d+\.\d+ % > 1\.00 %/);
    const window = aborted.window as { canary: { forced: number; requests: number } };
    assert.ok(window.canary.forced > 0, `forced answers counted apart: ${JSON.stringify(window.canary)}`);
    assert.equal(run.events.filter((e) => e.type === 'rollout.promoted').length, 0);
    assert.equal((await run.interrupt()).code, 0);
  });

  it('under airlock run nobody may force a side by default: the header is ignored, the key decides', async () => {
    const { dir, port, run } = await start('run');
    const since = run.events.length;
    behave(dir, { version: 'v2' });
    assert.equal(cli(dir, 'reload', 'web').status, 0);
    await run.waitForEvent('rollout.step', { canary: 2, share: 10 }, 60_000, since);
    const stableKey = Array.from({ length: 200 }, (_, i) => `s${i}`).find((key) => Number(cli(dir, 'rollout', 'bucket', key, '--group', GROUP).stdout) > 1000) as string;
    const answer = await getWith(port, { 'x-airlock-canary': 'always', 'x-user-id': stableKey });
    assert.equal(answer?.generation, '1');
    assert.match(answer?.body ?? '', /forced-header:none/, 'and the app never sees it');
    assert.equal((await run.interrupt()).code, 0);
  });

  it('counts clients that give up apart, never as the canary’s 5xx', async () => {
    const { dir, port, run } = await start('dev', '', { version: 'v1', delayMs: 150 });
    // Enough patient users for minRequests at 10 %, and impatient ones that leave after 30 ms.
    const load = new KeyedLoad(port, { users: 400, clients: 48 });
    cleanup(() => load.stop());
    let leaving = true;
    const impatient = Promise.all(
      Array.from({ length: 4 }, async (_, loop) => {
        for (let i = loop; leaving; i += 4) await getWith(port, { 'x-user-id': `u${i % 400}` }, '/', 30);
      }),
    );
    const since = run.events.length;
    behave(dir, { version: 'v2', delayMs: 150 });
    const decided = await run.waitForMatch((e) => (e.type === 'rollout.aborted' || e.type === 'rollout.promoted') && e.canary === 2, 60_000, since);
    leaving = false;
    await impatient;
    await load.stop();
    assert.equal(decided.type, 'rollout.promoted', JSON.stringify(decided));
    const judged = run.events.slice(since).filter((e) => e.window !== undefined) as unknown as { window: { canary: { disconnects?: number; errors: number } } }[];
    const disconnects = judged.reduce((sum, e) => sum + (e.window.canary.disconnects ?? 0), 0);
    assert.ok(disconnects > 0, `disconnects counted: ${JSON.stringify(judged.map((e) => e.window.canary))}`);
    assert.equal(judged.reduce((sum, e) => sum + e.window.canary.errors, 0), 0, 'and never as errors');
    assert.equal((await run.interrupt()).code, 0);
  });

  it('puts a key that is not ASCII where airlock rollout bucket says, through the proxy', async () => {
    const { dir, port, run } = await start('dev');
    const since = run.events.length;
    behave(dir, { version: 'v2' });
    await run.waitForEvent('rollout.step', { canary: 2, share: 10 }, 60_000, since);
    // Keys whose UTF-8 bucket and whose bucket read as Latin-1 fall on different sides at 10 %: any mix-up shows.
    const misread = (key: string) => Buffer.from(key, 'utf8').toString('latin1');
    const candidates = ['müller', 'Łódź', '東京', 'naïve', 'José', 'Ærøskøbing', 'Straße', 'čeština'].flatMap((word) => Array.from({ length: 300 }, (_, i) => `${word}${i}`));
    const differ = candidates.filter((key) => (bucketOf(key, GROUP) <= 1000) !== (bucketOf(misread(key), GROUP) <= 1000));
    const keys = [...differ.filter((key) => bucketOf(key, GROUP) <= 1000).slice(0, 5), ...differ.filter((key) => bucketOf(key, GROUP) > 1000).slice(0, 5)];
    assert.equal(keys.length, 10);
    for (const key of keys) {
      const bucket = Number(cli(dir, 'rollout', 'bucket', key, '--group', GROUP).stdout);
      const answer = await getWith(port, { 'x-user-id': Buffer.from(key, 'utf8').toString('latin1') });
      assert.equal(answer?.generation, bucket <= 1000 ? '2' : '1', `${key} (bucket ${bucket})`);
    }
    assert.equal((await run.interrupt()).code, 0);
  });

  it('never serves a rolled-back build after a restart: the build the rollout went back to serves instead', async () => {
    const first = await start('dev');
    const { dir, port } = first;
    const load = new KeyedLoad(port, { users: 400 });
    cleanup(() => load.stop());
    const since = first.run.events.length;
    behave(dir, { version: 'v2', errorEvery: 5 });
    await first.run.waitForEvent('rollout.aborted', { canary: 2 }, 60_000, since);
    await load.stop();
    assert.equal((await first.run.interrupt('SIGTERM')).code, 0);

    const again = new AirlockRun(['dev', '--log-format', 'json'], dir);
    cleanup(() => again.kill());
    const refused = await again.waitForEvent('reload.failed', { code: 'AIRLOCK_ERR_ROLLOUT_BAD_BUILD' }, 60_000);
    assert.match(String(refused.message), /not served: it is the same build as g2's rollout was aborted: .*the build the rollout went back to .* serves instead/);
    await again.waitForEvent('reload.ready', {}, 60_000);
    for (let i = 0; i < 20; i++) assert.match((await getWith(port, { 'x-user-id': `u${i}` }))?.body ?? '', /^v1 /);
    assert.equal((await again.interrupt()).code, 0);
  });

  it('aborts a canary whose requests never finish instead of holding it forever', async () => {
    const { dir, port, run } = await start('dev');
    const load = new KeyedLoad(port, { users: 400, clients: 16 });
    cleanup(() => load.stop());
    const since = run.events.length;
    behave(dir, { version: 'v2', delayMs: 120_000 });
    const aborted = await run.waitForEvent('rollout.aborted', { canary: 2 }, 60_000, since);
    assert.match(String(aborted.reason), /error rate|the canary does not answer/);
    const hung = run.events.slice(since).filter((e) => e.window !== undefined).reduce((sum, e) => sum + ((e.window as { canary: { hanging?: number } }).canary.hanging ?? 0), 0);
    assert.ok(hung > 0, 'requests open past the latency bound were counted');
    await load.stop();
    assert.equal((await run.interrupt()).code, 0);
  });

  it('refuses a reload of the same sources after an abort for a service without an artifact, as for a Go binary', async () => {
    const dir = tempProject();
    cleanup(() => removeProject(dir));
    copyFileSync(APP, join(dir, 'app.mjs'));
    behave(dir, { version: 'v1' });
    const port = await freePort();
    writeFileSync(join(dir, 'airlock.yaml'), yaml(port).replace('    build: { cmd: "cp behaviour.json {artifact}" }\n', '').replace('node app.mjs {artifact}', 'node app.mjs behaviour.json'));
    const run = new AirlockRun(['dev', '--log-format', 'json'], dir);
    cleanup(() => run.kill());
    await run.waitForEvent('reload.ready', { generation: 1 }, 60_000);
    const load = new KeyedLoad(port, { users: 400 });
    cleanup(() => load.stop());
    let since = run.events.length;
    behave(dir, { version: 'v2', errorEvery: 5 });
    await run.waitForEvent('rollout.aborted', { canary: 2 }, 60_000, since);
    await load.stop();
    since = run.events.length;
    assert.equal(cli(dir, 'reload', 'web').status, 0);
    const refused = await run.waitForEvent('reload.failed', { code: 'AIRLOCK_ERR_ROLLOUT_BAD_BUILD' }, 60_000, since);
    assert.match(String(refused.message), /same build as g2's rollout was aborted/);
    assert.equal(run.events.slice(since).filter((e) => e.type === 'rollout.step').length, 0);
    assert.equal((await run.interrupt()).code, 0);
  });

  it('after a restart mid-rollout serves the stable build and says so; a reload rolls the new build out again', async () => {
    const first = await start('dev');
    const { dir, port } = first;
    let since = first.run.events.length;
    behave(dir, { version: 'v2' });
    // No traffic: the rollout holds at its first step, under way when airlock stops.
    await first.run.waitForEvent('rollout.held', { canary: 2 }, 60_000, since);
    assert.equal((await first.run.interrupt('SIGTERM')).code, 0);

    const again = new AirlockRun(['dev', '--log-format', 'json'], dir);
    cleanup(() => again.kill());
    const notice = await again.waitForMatch((e) => e.type === 'notice' && /was under way when airlock stopped/.test(String(e.message)), 60_000);
    assert.match(String(notice.message), /its canary is gone: g1's build .* serves; `airlock reload` \(or the next change\) rolls this build out again/);
    await again.waitForEvent('reload.ready', {}, 60_000);
    for (let i = 0; i < 10; i++) assert.match((await getWith(port, { 'x-user-id': `u${i}` }))?.body ?? '', /^v1 /);
    since = again.events.length;
    assert.equal(cli(dir, 'reload', 'web').status, 0);
    const step = await again.waitForEvent('rollout.step', { step: 1 }, 60_000, since);
    assert.equal(step.share, 10);
    assert.equal((await again.interrupt()).code, 0);
  });
});
