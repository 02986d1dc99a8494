import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { bucketOf } from '../../packages/airlock/src/rollout/bucket.ts';
import { KeyedLoad, type KeyedAnswer } from '../../scripts/keyed-load.ts';
import { AirlockRun, CLI, ROOT, cleanupAfter, freePort, removeProject, tempProject, type JsonEvent } from './helpers.ts';

/**
 * Gray release through the real proxy, with a plain Node app (no airlock helper) whose
 * behaviour comes from its build's artifact: each build a different version. The timing
 * rules are unit-tested on a fake clock (packages/airlock/test/rollout.test.ts); here the
 * interval is short and the load real, counted by a client that does not retry.
 */
const APP = join(ROOT, 'test', 'fixtures', 'canary-app.mjs');
const GROUP = 'e2e';

function yaml(port: number, steps: string, workers = 1): string {
  return `services:
  web:
    build: { cmd: "cp behaviour.json {artifact}" }
    run: { cmd: "node app.mjs {artifact}", envFile: .env }
    watch: { include: [behaviour.json] }
    listen: 127.0.0.1:${port}
    health: { http: { path: /healthz } }
    stop: { drain: 5s }
    proxy: { workers: ${workers} }
    rollout:
      strategy: canary
      steps: ${steps}
      interval: 1s
      key: header:x-user-id
      group: ${GROUP}
      debugHeaders: true
      analysis: { minRequests: 20, maxErrorRate: 0.01, maxP99IncreaseMs: 100 }
`;
}

function behave(dir: string, behaviour: { version: string; errorEvery?: number; delayMs?: number }): void {
  writeFileSync(join(dir, 'behaviour.json'), JSON.stringify(behaviour));
}

function cli(dir: string, ...args: string[]) {
  return spawnSync(process.execPath, [CLI, ...args], { cwd: dir, encoding: 'utf8' });
}

/** One GET with headers on a fresh connection: status, body and the generation that served it. */
function getWith(port: number, headers: Record<string, string>): Promise<{ status: number; body: string; generation: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/', agent: false, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, generation: res.headers['x-airlock-generation'] as string | undefined }));
    });
    req.on('error', reject);
    req.end();
  });
}

const timeOf = (event: JsonEvent) => Date.parse(event.time as string);

/** Answers from the canary before `event` (strictly: routed while the previous share held) whose key was not on the canary then. */
function outsideShare(answers: readonly KeyedAnswer[], canary: number, before: JsonEvent, share: number): KeyedAnswer[] {
  const cut = timeOf(before) - 1;
  return answers.filter((a) => a.generation === canary && a.at < cut && bucketOf(a.key, GROUP) > share * 100);
}

describe('gray release (rollout.strategy: canary)', () => {
  const cleanup = cleanupAfter();

  async function start(steps: string, workers = 1) {
    const dir = tempProject();
    cleanup(() => removeProject(dir));
    copyFileSync(APP, join(dir, 'app.mjs'));
    behave(dir, { version: 'v1' });
    writeFileSync(join(dir, '.env'), 'MODE=one\n');
    const port = await freePort();
    writeFileSync(join(dir, 'airlock.yaml'), yaml(port, steps, workers));
    const run = new AirlockRun(['dev', '--log-format', 'json'], dir);
    cleanup(() => run.kill());
    await run.waitForEvent('reload.ready', { generation: 1 }, 60_000);
    return { dir, port, run };
  }

  // With proxy workers, each process splits alike and the verdict merges their figures.
  for (const workers of [1, 2]) {
  it(`steps 10 → 50 → 100 and promotes under keep-alive load: no failed request, a key only ever moves to the canary${workers > 1 ? ` (the proxy on ${workers} processes)` : ''}`, async () => {
    const { dir, port, run } = await start('[10, 50, 100]', workers);
    const load = new KeyedLoad(port, { users: 400 });
    cleanup(() => load.stop());
    const since = run.events.length;
    behave(dir, { version: 'v2' });
    const first = await run.waitForEvent('rollout.step', { canary: 2, share: 10 }, 60_000, since);
    assert.equal(first.stable, 1);
    const half = await run.waitForEvent('rollout.step', { canary: 2, share: 50 }, 30_000, since);
    const all = await run.waitForEvent('rollout.step', { canary: 2, share: 100 }, 30_000, since);
    const promoted = await run.waitForEvent('rollout.promoted', { canary: 2 }, 30_000, since);
    assert.match(String(promoted.reason), /passed at 100 %/);
    await run.waitForEvent('generation.drained', { generation: 1 }, 30_000, since);
    await load.stop();

    assert.deepEqual(load.failures, []);
    assert.deepEqual(load.answers.filter((a) => a.status !== 200).slice(0, 5), [], 'every answer 200');
    assert.deepEqual(outsideShare(load.answers, 2, half, 10).slice(0, 5), [], 'at 10 %: only buckets 1..1000 on the canary');
    assert.deepEqual(outsideShare(load.answers, 2, all, 50).slice(0, 5), [], 'at 50 %: only buckets 1..5000');
    // Growing the share only adds users: once a key met the canary it never goes back.
    const seenCanary = new Set<string>();
    for (const answer of load.answers) {
      if (answer.generation === 2) seenCanary.add(answer.key);
      else assert.ok(!seenCanary.has(answer.key), `${answer.key} went back to g1`);
    }
    const window = promoted.window as { canary: { requests: number } } | undefined;
    assert.ok((window?.canary.requests ?? 0) >= 20, 'the promoting window counted the canary');
    const metrics = cli(dir, 'status', '--json');
    assert.equal(JSON.parse(metrics.stdout).services[0].generation, 2);
    assert.equal((await run.interrupt()).code, 0);
  });
  }

  it('rolls back an erroring canary and a slow one within one interval; stable users never see the canary or an error; a rolled-back build is refused', async () => {
    const { dir, port, run } = await start('[10, 100]');
    const load = new KeyedLoad(port, { users: 400 });
    cleanup(() => load.stop());

    let since = run.events.length;
    behave(dir, { version: 'v2', errorEvery: 20 });
    await run.waitForEvent('rollout.step', { canary: 2, share: 10 }, 60_000, since);
    const aborted = await run.waitForEvent('rollout.aborted', { canary: 2 }, 30_000, since);
    assert.match(String(aborted.reason), /^error rate \d+\.\d+ % > 1\.00 %/);
    assert.equal(aborted.code, 'AIRLOCK_ERR_ROLLOUT_ABORTED');
    assert.equal(aborted.share, 0);
    await run.waitForEvent('process.exited', { generation: 2, expected: true }, 30_000, since);

    // The same build again (an explicit reload rebuilds the same bytes): refused, g1 serves on.
    since = run.events.length;
    assert.equal(cli(dir, 'reload', 'web').status, 0);
    const refused = await run.waitForEvent('reload.failed', { generation: 3 }, 60_000, since);
    assert.equal(refused.code, 'AIRLOCK_ERR_ROLLOUT_BAD_BUILD');
    assert.match(String(refused.message), /same build as g2's rollout was aborted: error rate/);

    since = run.events.length;
    behave(dir, { version: 'v3', delayMs: 250 });
    await run.waitForEvent('rollout.step', { canary: 4, share: 10 }, 60_000, since);
    const slow = await run.waitForEvent('rollout.aborted', { canary: 4 }, 30_000, since);
    assert.match(String(slow.reason), /^p99 2\d\d ms vs stable [\d.]+ ms/);
    await run.waitForEvent('process.exited', { generation: 4, expected: true }, 30_000, since);
    await load.stop();

    assert.deepEqual(load.failures, [], 'no request failed through either rollback');
    const stableSide = load.answers.filter((a) => bucketOf(a.key, GROUP) > 1000);
    assert.ok(stableSide.length > 100);
    assert.deepEqual(stableSide.filter((a) => a.generation !== 1 || a.status !== 200).slice(0, 5), [], 'stable-side keys: g1, 200, always');
    const canaryErrors = load.answers.filter((a) => a.generation === 2 && a.status === 500).length;
    assert.ok(canaryErrors > 0, 'the canary did answer its 500s (to canary keys only)');
    assert.equal((await run.interrupt()).code, 0);
  });

  it('holds with too little traffic; a forced side, status, promote by hand, pause and resume, a newer build mid-rollout, abort by hand', async () => {
    const { dir, port, run } = await start('[10, 50, 100]');
    let since = run.events.length;
    behave(dir, { version: 'v2' });
    await run.waitForEvent('rollout.step', { canary: 2, share: 10 }, 60_000, since);
    const held = await run.waitForEvent('rollout.held', { canary: 2 }, 30_000, since);
    assert.match(String(held.reason), /canary requests in the window, fewer than minRequests 20: holding at 10 %/);

    const forced = await getWith(port, { 'x-airlock-canary': 'always', 'x-user-id': 'anyone' });
    assert.equal(forced.generation, '2');
    assert.match(forced.body, /^v2 g2 forced-header:none/, 'the app never sees x-airlock-canary');
    assert.equal((await getWith(port, { 'x-airlock-canary': 'never' })).generation, '1');

    const status = JSON.parse(cli(dir, 'rollout', 'status', '--json').stdout);
    assert.equal(status.web.state, 'running');
    assert.equal(status.web.share, 10);
    assert.equal(status.web.lastDecision.type, 'rollout.held');
    assert.match(cli(dir, 'rollout', 'status', 'web').stdout, /web: canary g2 against stable g1 · running · step 1\/3 \[10, 50, 100\] · share 10 %/);
    assert.match(cli(dir, 'status').stdout, /web: rollout of g2 against g1: running at 10 % \(step 1\/3\); last: \d+ canary requests/);

    assert.equal(cli(dir, 'rollout', 'promote', 'web').status, 0);
    await run.waitForEvent('rollout.step', { canary: 2, share: 50, reason: 'promoted by hand' }, 10_000, since);
    // Paused, the step holds however many requests the next window counts.
    assert.equal(cli(dir, 'rollout', 'pause', 'web').status, 0);
    assert.equal(JSON.parse(cli(dir, 'rollout', 'status', '--json').stdout).web.state, 'paused');
    // The same key lands on the same side every time, by its bucket alone (so also after a restart of airlock).
    for (let user = 0; user < 20; user++) {
      const sides = new Set<string | undefined>();
      for (let i = 0; i < 10; i++) sides.add((await getWith(port, { 'x-user-id': `k${user}` })).generation);
      assert.deepEqual([...sides], [bucketOf(`k${user}`, GROUP) <= 5000 ? '2' : '1'], `k${user}`);
    }
    assert.equal(JSON.parse(cli(dir, 'rollout', 'status', '--json').stdout).web.share, 50, 'still at 50 % while paused');
    assert.equal(cli(dir, 'rollout', 'resume', 'web').status, 0);
    assert.equal(cli(dir, 'rollout', 'promote', 'web', '--full').status, 0);
    await run.waitForEvent('rollout.promoted', { canary: 2, reason: 'promoted by hand' }, 10_000, since);
    await run.waitForEvent('generation.drained', { generation: 1 }, 30_000, since);

    since = run.events.length;
    behave(dir, { version: 'v3' });
    await run.waitForEvent('rollout.step', { canary: 3, stable: 2 }, 60_000, since);
    behave(dir, { version: 'v4' });
    const replaced = await run.waitForEvent('rollout.step', { canary: 4, stable: 2 }, 60_000, since);
    assert.match(String(replaced.reason), /a new rollout against g2 \(replaces g3's at 10 %\)/);
    await run.waitForEvent('process.exited', { generation: 3, expected: true }, 30_000, since);
    // A restart of the same build mid-rollout (an env file changed) restarts the canary's
    // build as the next canary: the stable one keeps serving its users unchanged.
    writeFileSync(join(dir, '.env'), 'MODE=two\n');
    await run.waitForEvent('rollout.step', { canary: 5, stable: 2 }, 60_000, since);
    assert.match((await getWith(port, { 'x-airlock-canary': 'always' })).body, /^v4 g5 /, 'the canary restarted from its own build');
    assert.match((await getWith(port, { 'x-airlock-canary': 'never' })).body, /^v2 g2 /);
    assert.equal(cli(dir, 'rollout', 'abort', 'web').status, 0);
    await run.waitForEvent('rollout.aborted', { canary: 5, reason: 'aborted by hand' }, 10_000, since);
    assert.equal((await getWith(port, { 'x-airlock-canary': 'always' })).generation, '2', 'no canary after an abort');

    const none = cli(dir, 'rollout', 'abort', 'web');
    assert.equal(none.status, 1);
    assert.match(none.stderr, /no rollout in progress for web/);
    assert.match(none.stderr, /AIRLOCK_ERR_ROLLOUT_NONE/);
    assert.equal((await run.interrupt()).code, 0);
  });
});
