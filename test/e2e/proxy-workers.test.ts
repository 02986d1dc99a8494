import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { AirlockRun, ROOT, cleanupAfter, control, freePort, freePorts, getOnce, isAlive, removeProject, tempProject } from './helpers.ts';
import { Load } from '../../scripts/http-load.ts';
import { readStat } from '../../packages/airlock/src/supervise/proc.ts';

/** A Node app written the usual way: $PORT, plain server.close() on SIGTERM. */
const PLAIN_NODE = join(ROOT, 'test', 'fixtures', 'plain-node.mjs');

/** airlock's proxy worker processes: its children running worker-main. */
function workerPids(airlock: number): number[] {
  return readdirSync('/proc').flatMap((name) => {
    if (!/^\d+$/.test(name) || readStat(Number(name))?.ppid !== airlock) return [];
    try {
      return readFileSync(`/proc/${name}/cmdline`, 'utf8').includes('worker-main') ? [Number(name)] : [];
    } catch {
      return [];
    }
  });
}

/** CPU time (user + kernel, clock ticks) of a process: whether a worker did serve. */
function ticks(pid: number): number {
  const stat = readStat(pid);
  return (stat?.userTicks ?? 0) + (stat?.systemTicks ?? 0);
}

/** `airlock dev` in dir, once its first generation is ready, with its two proxy worker processes (ended by pid after the test). */
async function startWithWorkers(dir: string, cleanup: (...steps: (() => unknown)[]) => void): Promise<{ run: AirlockRun; airlock: number; workers: number[] }> {
  const run = new AirlockRun(['dev', '--log-format', 'json'], dir);
  cleanup(() => run.kill());
  await run.waitForEvent('reload.ready', { generation: 1 }, 120_000);
  const airlock = run.child.pid as number;
  const workers = workerPids(airlock);
  cleanup(() => {
    for (const pid of workers) if (isAlive(pid)) process.kill(pid, 'SIGKILL');
  });
  assert.equal(workers.length, 2, 'two worker processes beside airlock');
  return { run, airlock, workers };
}

async function until(test: () => boolean, what: string, ms = 20_000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!test()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe('proxy.workers: the proxy on three processes', () => {
  const cleanup = cleanupAfter();

  it('reloads 10 times under keep-alive load with no failed request, counts every worker\'s requests, and leaves no worker behind when airlock is killed', async () => {
    const dir = tempProject();
    cleanup(() => removeProject(dir));
    const [port, metricsPort] = (await freePorts(2)) as [number, number];
    writeFileSync(
      join(dir, 'airlock.yaml'),
      `metrics: { listen: 127.0.0.1:${metricsPort} }\nservices:\n  web:\n    run: { cmd: "node ${PLAIN_NODE}" }\n    listen: 127.0.0.1:${port}\n    handoff: proxy\n    proxy: { workers: 3 }\n`,
    );
    const { run, airlock, workers } = await startWithWorkers(dir, cleanup);

    const idle = [airlock, ...workers].map(ticks);
    const load = new Load(port, 16);
    cleanup(() => load.stop());
    for (let n = 2; n <= 11; n++) {
      const since = run.events.length;
      assert.equal((await control(dir, 'POST', '/reload'))?.status, 202);
      await run.waitForEvent('reload.ready', { generation: n }, 60_000, since);
    }
    await load.stop();
    const spent = workers.map((pid, i) => ticks(pid) - (idle[i + 1] as number));
    console.log(`# CPU ticks under load: airlock ${ticks(airlock) - (idle[0] as number)}, workers ${spent.join(', ')}`);
    // Idle, a worker spends about a tick a second: far more means it forwarded requests.
    assert.ok(spent.some((n) => n > 20), `the workers served (ticks ${spent.join(', ')})`);
    assert.deepEqual(load.failures, [], `${load.failures.length} failed of ${load.ok + load.failures.length}`);
    assert.ok(load.ok > 100, `${load.ok} requests`);

    // Every worker's answers reach airlock's figures (batches every 100 ms). The latency
    // histogram's count is one series per service (per-generation series are pruned).
    const counted = async () => {
      const text = String(await getOnce(metricsPort, '/metrics'));
      const line = text.split('\n').find((l) => l.startsWith('airlock_proxy_request_duration_seconds_count{') && l.includes('service="web"'));
      return Number(line?.split(' ').pop() ?? 0);
    };
    const deadline = performance.now() + 10_000;
    let total = await counted();
    while (total < load.ok && performance.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      total = await counted();
    }
    assert.ok(total >= load.ok, `metrics count ${total} requests, the clients had ${load.ok} answered`);

    // Killed outright, airlock cannot tell them: their IPC channel closing ends them.
    run.child.kill('SIGKILL');
    await run.exited;
    await until(() => workers.every((pid) => !isAlive(pid)), 'the proxy workers to end with airlock');
  });
});

describe('proxy.workers: tcp-proxy on three processes', () => {
  const cleanup = cleanupAfter();

  it('reloads a Go service 10 times under keep-alive load with no failed request, the workers carrying connections, and none left when airlock is killed', async () => {
    const dir = tempProject('go-hello');
    cleanup(() => removeProject(dir));
    const port = await freePort();
    writeFileSync(
      join(dir, 'airlock.yaml'),
      `services:\n  hello:\n    go: { main: . }\n    listen: 127.0.0.1:${port}\n    handoff: tcp-proxy\n    proxy: { workers: 3 }\n    health: { http: { path: /healthz } }\n`,
    );
    const { run, workers } = await startWithWorkers(dir, cleanup);

    const idle = workers.map(ticks);
    const load = new Load(port, 16);
    cleanup(() => load.stop());
    await load.until('hello from go-hello');
    for (let n = 2; n <= 11; n++) {
      const since = run.events.length;
      assert.equal((await control(dir, 'POST', '/reload'))?.status, 202);
      await run.waitForEvent('reload.ready', { generation: n }, 60_000, since);
    }
    await load.stop();
    const spent = workers.map((pid, i) => ticks(pid) - (idle[i] as number));
    console.log(`# CPU ticks of the workers under load: ${spent.join(', ')}`);
    assert.ok(spent.some((n) => n > 20), `the workers carried connections (ticks ${spent.join(', ')})`);
    assert.deepEqual(load.failures, [], `${load.failures.length} failed of ${load.ok + load.failures.length}`);
    assert.ok(load.ok > 100, `${load.ok} requests`);

    run.child.kill('SIGKILL');
    await run.exited;
    await until(() => workers.every((pid) => !isAlive(pid)), 'the proxy workers to end with airlock');
  });
});
