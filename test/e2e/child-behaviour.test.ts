import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { rssMiB } from '../../scripts/rss.ts';
import { AirlockRun, ROOT, cleanupAfter, control, freePort, get, isAlive, isPortFree, removeProject, tempProject } from './helpers.ts';

/**
 * Children that misbehave, each a small program in test/fixtures/children. Whatever they
 * do, airlock keeps running, says what happened in one line, and leaves nothing behind.
 */
const CHILDREN = join(ROOT, 'test', 'fixtures', 'children');

interface Setup {
  readonly fixture: string;
  readonly handoff?: 'fd' | 'proxy' | 'restart';
  readonly extra?: string;
  readonly env?: Record<string, string>;
}

async function project(setup: Setup): Promise<{ dir: string; port: number }> {
  const dir = tempProject();
  const port = await freePort();
  const env = JSON.stringify({ LISTEN_ADDR: `127.0.0.1:${port}`, ...setup.env });
  writeFileSync(
    join(dir, 'airlock.yaml'),
    `services:\n  app:\n    run:\n      cmd: node ${join(CHILDREN, setup.fixture)}\n      env: ${env}\n` +
      `    listen: 127.0.0.1:${port}\n    handoff: ${setup.handoff ?? 'proxy'}\n    watch: { include: ["none"] }\n    stop: { timeout: 300ms }\n${setup.extra ?? ''}`,
  );
  return { dir, port };
}

/** The control socket answers while airlock is healthy. */
async function statusAnswers(dir: string): Promise<boolean> {
  return (await control(dir, 'GET', '/status'))?.status === 200;
}

/** The pid a grandchild writes once it listens (the file is its only sign of life). */
async function readPid(file: string): Promise<number> {
  for (let i = 0; i < 500; i++) {
    try {
      return Number(readFileSync(file, 'utf8'));
    } catch {
      await sleep(20); // no event to wait for: the file appears once the grandchild listens
    }
  }
  throw new Error(`${file} never appeared`);
}

/** Ctrl-C: airlock exits 0 and leaves nothing behind (every generation it started, and `pids`). */
async function stopsCleanly(run: AirlockRun, pids: readonly number[]): Promise<void> {
  const { code } = await run.interrupt();
  assert.equal(code, 0, run.output());
  for (const pid of [...run.childPids, ...pids]) assert.equal(isAlive(pid), false, `pid ${pid} is gone`);
  // airlock's own lines, not what the children printed.
  const own = run.lines.filter((line) => !line.includes('"type":"process.output"'));
  assert.equal(own.filter((line) => /AIRLOCK_ERR_INTERNAL|double free/.test(line)).length, 0, run.output());
}

describe('children that misbehave', () => {
  const cleanup = cleanupAfter();

  async function start(setup: Setup) {
    const { dir, port } = await project(setup);
    cleanup(() => removeProject(dir));
    const run = new AirlockRun(['dev', '--log-format', 'json'], dir);
    cleanup(() => run.kill());
    return { dir, port, run };
  }

  it('writes garbage to the gate and closes fds 3, 4 and 5 (fd handoff): airlock stays up', async () => {
    const { dir, run } = await start({ fixture: 'garbage-fds.mjs', handoff: 'fd' });
    const started = await run.waitForEvent('process.started', { generation: 1 });
    await run.waitForEvent('reload.ready', { generation: 1 });
    assert.equal(await statusAnswers(dir), true);
    await stopsCleanly(run, [started.pid as number]);
  });

  it('exits at once: each failed start is one line with its code, and a crash loop answers held requests with the reason', async () => {
    const { port, run } = await start({ fixture: 'exit-at-once.mjs' });
    const failed = await run.waitForEvent('reload.failed', { generation: 1 });
    assert.equal(failed.code, 'AIRLOCK_ERR_PROCESS_CRASHED');
    assert.equal(failed.message, 'g1: exited with code 1 before it was ready');
    await run.waitForEvent('reload.failed', { generation: 3 }, 30_000);
    const started = performance.now();
    const body = await get(port);
    assert.match(body ?? '', /^app is crash-looping: g3: exited with code 1 before it was ready\n$/);
    assert.ok(performance.now() - started < 5_000, 'answered without waiting proxy.hold (30 s)');
    await stopsCleanly(run, []);
  });

  it('exits 0 right after start (with listen): a failed start, retried, never taken for ready', async () => {
    const { run } = await start({ fixture: 'exit-at-once.mjs', env: { EXIT_CODE: '0' } });
    const failed = await run.waitForEvent('reload.failed', { generation: 1 });
    assert.equal(failed.message, 'g1: exited with code 0 before it was ready');
    // It follows the failure at once, often in the same chunk of output: look from there.
    await run.waitForEvent('process.restarting', { generation: 1 }, 60_000, run.events.indexOf(failed));
    assert.equal(run.events.filter((e) => e.type === 'reload.ready').length, 0);
    await stopsCleanly(run, []);
  });

  it('binds the listen address itself: the failure says so and what to change', async () => {
    // LISTEN_ADDR (the listen address) reaches every fixture through run.env.
    const { port, run } = await start({ fixture: 'binds-listen.mjs' });
    const failed = await run.waitForEvent('reload.failed', { generation: 1 });
    assert.equal(failed.code, 'AIRLOCK_ERR_PORT_CONFLICT', JSON.stringify(failed));
    assert.match(
      failed.message as string,
      new RegExp(`^g1: exited with code 1 before it was ready: the app binds 127\\.0\\.0\\.1:${port} itself, which airlock holds for handoff: proxy: make it listen on \\$PORT`),
    );
    await stopsCleanly(run, []);
  });

  it('ignores SIGTERM: killed after stop.timeout, said in one line, nothing left', async () => {
    const { port, run } = await start({ fixture: 'ignore-term.mjs' });
    const started = await run.waitForEvent('process.started', { generation: 1 });
    await run.waitForEvent('reload.ready', { generation: 1 });
    assert.equal(await get(port), 'ok 1\n');
    await stopsCleanly(run, [started.pid as number]);
    const exited = run.events.find((e) => e.type === 'process.exited');
    assert.equal(exited?.forced, true, run.output());
  });

  it('leaves a setsid grandchild with an empty environment holding a port: it is stopped and the port freed', async () => {
    const grandPort = await freePort();
    const dir0 = tempProject();
    cleanup(() => removeProject(dir0));
    const pidFile = join(dir0, 'grandchild.pid');
    const { run } = await start({ fixture: 'setsid-grandchild.mjs', env: { GRANDCHILD_PORT: String(grandPort), GRANDCHILD_PID_FILE: pidFile } });
    await run.waitForEvent('reload.ready', { generation: 1 });
    const grandchild = await readPid(pidFile);
    cleanup(() => {
      if (isAlive(grandchild)) process.kill(grandchild, 'SIGKILL');
    });
    assert.equal(isPortFree(grandPort), false);
    await stopsCleanly(run, [grandchild]);
    assert.equal(isPortFree(grandPort), true);
  });

  // With a cgroup (this machine's default) it is found there; without one (AIRLOCK_CGROUPS=off,
  // as where none can be made) only by looking at the tree often in the first seconds.
  for (const cgroups of ['on', 'off'] as const) {
  it(`starts a setsid grandchild with an empty environment and exits at once: the grandchild is still stopped (cgroups ${cgroups})`, async () => {
    const grandPort = await freePort();
    const dir0 = tempProject();
    cleanup(() => removeProject(dir0));
    const pidFile = join(dir0, 'grandchild.pid');
    const dir = tempProject();
    cleanup(() => removeProject(dir));
    writeFileSync(
      join(dir, 'airlock.yaml'),
      `services:\n  app:\n    run:\n      cmd: node ${join(CHILDREN, 'orphan-maker.mjs')}\n      env: ${JSON.stringify({ GRANDCHILD_PORT: String(grandPort), GRANDCHILD_PID_FILE: pidFile })}\n    watch: { include: ["none"] }\n`,
    );
    const run = new AirlockRun(['dev', '--log-format', 'json'], dir, cgroups === 'off' ? { AIRLOCK_CGROUPS: 'off' } : {});
    cleanup(() => run.kill());
    await run.waitForEvent('process.exited', { generation: 1 });
    const grandchild = await readPid(pidFile);
    cleanup(() => {
      if (isAlive(grandchild)) process.kill(grandchild, 'SIGKILL');
    });
    await stopsCleanly(run, [grandchild]);
    assert.equal(isPortFree(grandPort), true);
  });
  }

  it('prints a 10 MB line without a newline and binary garbage: the line is cut, airlock stays small and serves', async () => {
    const { port, run } = await start({ fixture: 'long-line.mjs' });
    await run.waitForEvent('reload.ready', { generation: 1 });
    assert.equal(await get(port), 'ok 1\n');
    const cut = run.events.find((e) => e.type === 'process.output' && /line cut: \d+ more characters without a newline\]$/.test(String(e.line)));
    assert.ok(cut, 'the long line is cut and says so');
    assert.ok(String(cut.line).length < 20_000);
    assert.ok(run.events.some((e) => e.type === 'process.output' && e.line === 'after the long line'));
    const rss = rssMiB(run.child.pid as number);
    console.log(`# airlock RSS after a 10 MB line: ${rss.toFixed(0)} MiB`);
    assert.ok(rss < 300, `${rss} MiB`);
    await stopsCleanly(run, []);
  });

  it('floods stdout while airlock\'s own output and an /events client are not read: memory stays bounded, lines are dropped and counted, the client is cut', async () => {
    const { dir, port, run } = await start({ fixture: 'flood.mjs' });
    await run.waitForEvent('reload.ready', { generation: 1 });
    // An /events client that never reads what it asked for.
    const events = createConnection(join(dir, '.airlock', 'control.sock'));
    cleanup(() => events.destroy());
    events.on('error', () => undefined);
    const cut = new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the /events client was never cut')), 30_000);
      events.once('close', () => resolve(clearTimeout(timer)));
    });
    events.write('GET /events HTTP/1.1\r\nHost: airlock\r\n\r\n');
    events.pause();
    // Lines may be dropped (and counted) already before the pause, when airlock writes faster than this test reads.
    const beforePause = run.lines.length;
    run.child.stdout?.pause();
    let peak = 0;
    for (let i = 0; i < 30; i++) {
      peak = Math.max(peak, rssMiB(run.child.pid as number));
      await sleep(100); // sampling memory over time: there is no event for it
    }
    console.log(`# airlock peak RSS over 3 s of a flood with its stdout unread: ${peak.toFixed(0)} MiB`);
    assert.ok(peak < 300, `${peak} MiB`);
    assert.equal(await get(port), 'ok 1\n', 'the proxy keeps serving meanwhile');
    run.child.stdout?.resume();
    await run.waitForLine(/^airlock: \d+ lines of output dropped: the reader of airlock's output was too slow$/, 60_000, beforePause);
    // Reading again, the client finds the end airlock gave it: it was cut, not kept for ever.
    events.resume();
    await cut;
    await stopsCleanly(run, []);
  });

  it('answers health, then hangs every request: probes time out, it is replaced, airlock stays up', async () => {
    const { dir, run } = await start({
      fixture: 'hang-after-health.mjs',
      extra: '    health: { http: { path: /healthz }, interval: 100ms, timeout: 100ms, failureThreshold: 2 }\n',
    });
    await run.waitForEvent('reload.ready', { generation: 1 });
    const failed = await run.waitForEvent('health.failed', { generation: 1 });
    assert.match(failed.detail as string, /^2 probes failed in a row: /);
    await run.waitForEvent('process.restarting', { generation: 1 }, 60_000, run.events.indexOf(failed));
    assert.equal(await statusAnswers(dir), true);
    await stopsCleanly(run, []);
  });
});
