import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Objm } from '@nats-io/obj';
import { connect } from '@nats-io/transport-node';
import { Load } from '../../scripts/http-load.ts';
import { AirlockRun, CLI, cleanupAfter, freePorts, getOnce, removeProject, tempProject } from './helpers.ts';
import { NatsServer } from './nats-server.ts';

/**
 * A fleet on one machine: one real nats-server (Debian's), three `airlock agent`
 * processes with their own host ids, each serving a plain Node app on its own port, all
 * following one channel in a nats:// repository. Releases are published and rolled out
 * with the built CLI; load comes from Node's http.Agent, which never retries.
 */
function app(version: string, failEvery = 0): string {
  return `let n = 0;
const server = require('node:http').createServer((req, res) => {
  n += 1;
  if (${failEvery} > 0 && n % ${failEvery} === 0) { res.statusCode = 500; return res.end('broken ${version}'); }
  res.end('${version}');
});
server.listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => { server.close(); setTimeout(() => process.exit(0), 200); });
`;
}

function cli(dir: string, ...args: string[]): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, [CLI, ...args], { cwd: dir, encoding: 'utf8' });
}

interface Host {
  readonly id: string;
  readonly dir: string;
  readonly port: number;
  run: AirlockRun;
}

describe('a fleet on NATS JetStream: three agents follow one channel', () => {
  const cleanup = cleanupAfter();
  let nats: NatsServer;
  let publisher: string;
  let repo: string;
  const hosts: Host[] = [];
  const loads: Load[] = [];

  const publish = (version: number, options: { failEvery?: number; staged?: boolean } = {}) => {
    writeFileSync(join(publisher, 'app.cjs'), app(`v${version}`, options.failEvery));
    const published = cli(publisher, 'release', 'publish', repo, 'app.cjs', '--keys', 'keys', '--service', 'web', '--channel', 'stable', '--version', String(version), ...(options.staged ? ['--staged'] : []));
    assert.equal(published.status, 0, published.stderr);
  };
  const startAgent = (host: Host) => {
    host.run = new AirlockRun(['agent', '--host', host.id, '--log-format', 'json'], host.dir);
    const run = host.run;
    cleanup(() => run.kill());
  };
  const allApplied = (version: number) => Promise.all(hosts.map((host) => host.run.waitForEvent('release.applied', { version }, 90_000, 0)));
  const rollout = (to: number, ...extra: string[]) =>
    new AirlockRun(['fleet', 'rollout', 'web', '--channel', `${repo}/stable`, '--keys', 'keys', '--to', String(to), '--steps', '34,100', '--interval', '3s', '--min-requests', '20', '--ready-timeout', '60s', ...extra], publisher);

  before(async () => {
    nats = await NatsServer.single(cleanup);
    repo = `${nats.url}/fleet`;
    publisher = tempProject();
    cleanup(() => removeProject(publisher));
    const init = cli(publisher, 'release', 'init', repo, '--keys', 'keys');
    assert.equal(init.status, 0, init.stderr);
    publish(1);
    const ports = await freePorts(3);
    for (const [i, id] of ['host-a', 'host-b', 'host-c'].entries()) {
      const dir = tempProject();
      cleanup(() => removeProject(dir));
      mkdirSync(join(dir, 'trust'));
      copyFileSync(join(publisher, 'keys', '1.root.json'), join(dir, 'trust', 'root.json'));
      const port = ports[i] as number;
      writeFileSync(
        join(dir, 'airlock.yaml'),
        `services:\n  web:\n    run: { cmd: "node {artifact}" }\n    listen: 127.0.0.1:${port}\n    health: { http: { path: / } }\n    stop: { drain: 1s }\n    release: { from: "${repo}", channel: stable, trust: trust/root.json, poll: 30s }\n`,
      );
      const host = { id, dir, port } as Host;
      hosts.push(host);
      startAgent(host);
    }
    await allApplied(1);
    for (const host of hosts) loads.push(new Load(host.port, 2));
  });

  after(async () => {
    await Promise.all(loads.map((load) => load.stop()));
  });

  it('publish: every agent verifies the release and serves it, under load, with 0 failed requests', async () => {
    publish(2);
    await allApplied(2);
    await Promise.all(loads.map((load) => load.until('v2')));
    assert.deepEqual(loads.flatMap((load) => load.failures), []);
    // Heartbeats go out every second: wait for the three that name release 2.
    let status = cli(publisher, 'fleet', 'status', '--channel', `${repo}/stable`);
    await waitFor(async () => {
      status = cli(publisher, 'fleet', 'status', '--channel', `${repo}/stable`);
      return hosts.every((host) => new RegExp(`^${host.id}\\s+web\\s+2\\s+serving`, 'm').test(status.stdout));
    }, `fleet status naming release 2 on every host: ${status.stdout}`);
    assert.equal(status.status, 0, status.stderr);
    assert.match(status.stdout, /^HOST\s+SERVICE\s+RELEASE\s+STATE\s+GEN\s+HEARTBEAT$/m);
  });

  it('a staged release rolled out 1 host → 3 hosts is promoted on schedule; the others keep the head meanwhile', async () => {
    publish(3, { staged: true });
    const controller = rollout(3);
    cleanup(() => controller.kill());
    const step1 = await controller.waitForLine(/^fleet: step 1\/2: 34 % of hosts, 1 of 3 on 3: (host-[abc])$/);
    const canary = /(host-[abc])$/.exec(step1)?.[1] as string;
    const canaryHost = hosts.find((host) => host.id === canary) as Host;
    await canaryHost.run.waitForEvent('release.applied', { version: 3, canary: true }, 60_000, 0);
    // The others stay on the head while the canary host is judged.
    for (const host of hosts.filter((h) => h !== canaryHost)) assert.equal(await getOnce(host.port), 'v2');
    assert.equal((await controller.exited).code, 0, controller.output());
    assert.match(controller.output(), /promoted: 3 is the head of web on stable/);
    await allApplied(3);
    await Promise.all(loads.map((load) => load.until('v3')));
    assert.deepEqual(loads.flatMap((load) => load.failures), []);
  });

  it('an error rate injected on the canary host rolls every host back to the head', async () => {
    publish(4, { staged: true, failEvery: 3 });
    const controller = rollout(4, '--max-error-rate', '0.05');
    cleanup(() => controller.kill());
    assert.equal((await controller.exited).code, 1, controller.output());
    assert.match(controller.output(), /aborted: step 1: error rate [\d.]+ % > 5\.00 %/);
    // Every host serves the head, 3, again.
    for (const host of hosts) await waitFor(async () => (await getOnce(host.port)) === 'v3', `${host.id} back on v3`);
    const verify = cli(publisher, 'release', 'verify', repo, '--trust', 'keys/1.root.json', '--service', 'web', '--channel', 'stable');
    assert.match(verify.stdout, /^web 3 on stable/);
    // The only failed requests were the canary's own 500s, on its host.
    assert.deepEqual([...new Set(loads.flatMap((load) => load.failures))], ['status 500: broken v4']);
    for (const load of loads) load.failures.length = 0;
  });

  it('an object changed inside the store is refused by every agent, and the rollout of it aborted; they keep serving', async () => {
    // Staged: no host fetches it until a rollout names it.
    publish(5, { staged: true });
    // Someone with write access to JetStream, but no key, replaces the release's bytes.
    const nc = await connect({ servers: `127.0.0.1:${nats.port}` });
    try {
      const store = await new Objm(nc).open('airlock_fleet_targets');
      const five = (await store.list()).find((entry) => entry.name.startsWith('web/stable/5/'));
      assert.ok(five, 'release 5 is in the object store');
      await store.putBlob({ name: five.name }, new TextEncoder().encode(app('v5').replace('v5', 'evil')));
    } finally {
      await nc.close();
    }
    // One step of 100 %: every host is asked to run it at once.
    const controller = new AirlockRun(['fleet', 'rollout', 'web', '--channel', `${repo}/stable`, '--keys', 'keys', '--to', '5', '--steps', '100', '--interval', '3s', '--min-requests', '20'], publisher);
    cleanup(() => controller.kill());
    const refusals = await Promise.all(hosts.map((host) => host.run.waitForMatch((e) => e.type === 'release.refused' && e.version === 5, 60_000, 0)));
    for (const refusal of refusals) assert.match(String(refusal.message), /download was refused.*(hash|length)/i);
    assert.equal((await controller.exited).code, 1, controller.output());
    assert.match(controller.output(), /aborted: step 1: host host-[abc] refused 5/);
    for (const host of hosts) assert.equal(await getOnce(host.port), 'v3');
    assert.deepEqual(loads.flatMap((load) => load.failures), []);
  });

  it('nats-server stopped and started again mid-rollout: every agent keeps serving, and the rollout resumes and promotes', async () => {
    publish(6, { staged: true });
    const controller = rollout(6, '--interval', '4s');
    cleanup(() => controller.kill());
    await controller.waitForLine(/^fleet: step 1\/2: 34 % of hosts, 1 of 3 on 6: host-[abc]$/);
    await nats.stop();
    // Nothing changes for the services while NATS is away.
    const okBefore = loads.map((load) => load.ok);
    // Longer than a NATS request's timeout (5 s): the controller's reads fail and it holds.
    await new Promise((resolve) => setTimeout(resolve, 6_000));
    loads.forEach((load, i) => assert.ok(load.ok > (okBefore[i] as number), `${hosts[i]?.id} kept answering`));
    await nats.start();
    assert.equal((await controller.exited).code, 0, controller.output());
    await allApplied(6);
    await Promise.all(loads.map((load) => load.until('v6')));
    assert.deepEqual(loads.flatMap((load) => load.failures), []);
  });

  it('a controller killed mid-step is replaced: the next one waits out its lease, keeps its hosts and step, and promotes once', async () => {
    publish(7, { staged: true });
    const first = rollout(7, '--interval', '5s');
    cleanup(() => first.kill());
    const step = await first.waitForLine(/^fleet: step 1\/2: 34 % of hosts, 1 of 3 on 7: (host-[abc])$/);
    const canary = /(host-[abc])$/.exec(step)?.[1] as string;
    first.child.kill('SIGKILL');
    await first.exited;
    const second = rollout(7, '--interval', '3s');
    cleanup(() => second.kill());
    await second.waitForLine(/^fleet: waiting for the rollout lease of web on stable, held by /);
    await second.waitForLine(new RegExp(`^fleet: resuming the rollout of 7 at step 1 of 2 with hosts ${canary} `));
    assert.equal((await second.exited).code, 0, second.output());
    assert.equal(second.lines.filter((line) => /^fleet: promoted/.test(line)).length, 1);
    for (const line of second.lines.filter((l) => /^fleet: step 1\/2: /.test(l))) assert.match(line, new RegExp(`1 of 3 on 7: ${canary}$`), 'step 1 is not started over with other hosts');
    await allApplied(7);
    assert.deepEqual(loads.flatMap((load) => load.failures), []);
  });

  it('a lagging agent (stopped for two releases) catches up to the newest at once', async () => {
    const lagging = hosts[2] as Host;
    assert.equal((await lagging.run.interrupt()).code, 0);
    const others = hosts.slice(0, 2);
    publish(8);
    await Promise.all(others.map((host) => host.run.waitForEvent('release.applied', { version: 8 }, 60_000, 0)));
    publish(9);
    await Promise.all(others.map((host) => host.run.waitForEvent('release.applied', { version: 9 }, 60_000, 0)));
    startAgent(lagging);
    await lagging.run.waitForEvent('release.applied', { version: 9 });
    assert.equal(lagging.run.events.filter((e) => e.type === 'release.applied' && e.version === 8).length, 0, 'it goes straight to 9');
    assert.equal(await getOnce(lagging.port), 'v9');
  });

  it('an agent restarted while NATS is down serves the release it verified last, and catches up once NATS is back', async () => {
    const host = hosts[1] as Host;
    assert.equal((await host.run.interrupt()).code, 0);
    await nats.stop();
    startAgent(host);
    const offline = await host.run.waitForEvent('release.refused', { code: 'AIRLOCK_ERR_NATS_UNREACHABLE' }, 60_000, 0);
    assert.match(String(offline.message), /running 9 again, the release this machine verified and applied last/);
    await host.run.waitForEvent('release.applied', { version: 9 }, 60_000, 0);
    assert.equal(await getOnce(host.port), 'v9');
    await nats.start();
    publish(10);
    await allApplied(10);
    assert.equal(await getOnce(host.port), 'v10');
  });
});

async function waitFor(test: () => Promise<boolean>, what: string, timeoutMs = 60_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await test())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

