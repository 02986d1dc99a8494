import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Load } from '../../scripts/http-load.ts';
import { AirlockRun, CLI, cleanupAfter, freePorts, getOnce, removeProject, tempProject } from './helpers.ts';
import { NatsServer } from './nats-server.ts';

/**
 * What a NATS deployment survives, the fleet survives: a three-node nats-server cluster
 * (three processes routed to each other, JetStream replicas 3) on loopback ports, three
 * agents, and one node stopped in the middle of a fleet rollout.
 */
function app(version: string): string {
  return `const server = require('node:http').createServer((req, res) => res.end('${version}'));
server.listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => { server.close(); setTimeout(() => process.exit(0), 200); });
`;
}

function cli(dir: string, ...args: string[]): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, [CLI, ...args], { cwd: dir, encoding: 'utf8' });
}

describe('a fleet on a three-node NATS cluster', () => {
  const cleanup = cleanupAfter();

  it('keeps rolling out and publishing through the other two when one node stops mid-rollout', async () => {
    const nodes = await NatsServer.cluster(cleanup);
    const repo = `nats://${nodes.map((node) => `127.0.0.1:${node.port}`).join(',')}/cl`;
    const publisher = tempProject();
    cleanup(() => removeProject(publisher));
    // A new cluster elects its JetStream leader first: init is refused until it has one.
    let init = cli(publisher, 'release', 'init', repo, '--keys', 'keys', '--replicas', '3');
    for (let i = 0; init.status !== 0 && i < 60; i++) {
      assert.match(init.stderr, /NATS_(UNREACHABLE|SERVER)/, init.stderr);
      await new Promise((resolve) => setTimeout(resolve, 500));
      init = cli(publisher, 'release', 'init', repo, '--keys', 'keys', '--replicas', '3');
    }
    assert.equal(init.status, 0, init.stderr);
    const publish = (version: number, staged = false) => {
      writeFileSync(join(publisher, 'app.cjs'), app(`v${version}`));
      const published = cli(publisher, 'release', 'publish', repo, 'app.cjs', '--keys', 'keys', '--service', 'web', '--channel', 'stable', '--version', String(version), ...(staged ? ['--staged'] : []));
      assert.equal(published.status, 0, published.stderr);
    };
    publish(1);
    const ports = await freePorts(3);
    const runs: AirlockRun[] = [];
    // The watch is the fast path; after a node loss its consumer may sit on the stopped
    // node until it times out, so the poll (the backstop) is short here, as in a cluster.
    for (const [i, id] of ['host-a', 'host-b', 'host-c'].entries()) {
      const dir = tempProject();
      cleanup(() => removeProject(dir));
      mkdirSync(join(dir, 'trust'));
      copyFileSync(join(publisher, 'keys', '1.root.json'), join(dir, 'trust', 'root.json'));
      writeFileSync(
        join(dir, 'airlock.yaml'),
        `services:\n  web:\n    run: { cmd: "node {artifact}" }\n    listen: 127.0.0.1:${ports[i]}\n    health: { http: { path: / } }\n    stop: { drain: 1s }\n    release: { from: "${repo}", channel: stable, trust: trust/root.json, poll: 5s }\n`,
      );
      const run = new AirlockRun(['agent', '--host', id, '--log-format', 'json'], dir);
      cleanup(() => run.kill());
      runs.push(run);
    }
    const allApplied = (version: number) => Promise.all(runs.map((run) => run.waitForEvent('release.applied', { version }, 90_000, 0)));
    await allApplied(1);
    const loads = ports.map((port) => new Load(port as number, 2));
    cleanup(() => Promise.all(loads.map((load) => load.stop())));

    publish(2, true);
    const controller = new AirlockRun(['fleet', 'rollout', 'web', '--channel', `${repo}/stable`, '--keys', 'keys', '--to', '2', '--steps', '34,100', '--interval', '4s', '--min-requests', '20'], publisher);
    cleanup(() => controller.kill());
    await controller.waitForLine(/^fleet: step 1\/2: 34 % of hosts, 1 of 3 on 2: host-[abc]$/);
    await (nodes[0] as NatsServer).stop();
    const exit = await controller.exited;
    assert.equal(exit.code, 0, `${JSON.stringify(exit)}\n${controller.output()}`);
    await allApplied(2);
    await Promise.all(loads.map((load) => load.until('v2')));

    // Still one node down: a publish reaches every agent through the other two.
    publish(3);
    await allApplied(3);
    for (const port of ports) assert.equal(await getOnce(port as number), 'v3');
    await Promise.all(loads.map((load) => load.stop()));
    assert.deepEqual(loads.flatMap((load) => load.failures), []);
  });
});
