import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Kvm } from '@nats-io/kv';
import { connect } from '@nats-io/transport-node';
import { AirlockRun, CLI, cleanupAfter, freePorts, getOnce, removeProject, tempProject } from './helpers.ts';
import { NatsServer } from './nats-server.ts';

/**
 * The permissions docs/fleet.md gives an agent, on a real server: it reads the releases
 * and writes only its own heartbeat. The agent runs with exactly them (a server that
 * refuses anything else), applies releases as they come, and shows in `fleet status`;
 * the same user cannot change a release, the metadata, or another host's heartbeat.
 */
const REPO = 'perm';

/** docs/fleet.md's agent permissions for repository REPO and host HOST (kept in step with the page). */
function agentPermissions(host: string): string {
  const meta = `KV_airlock_${REPO}_meta`;
  const targets = `OBJ_airlock_${REPO}_targets`;
  const hosts = `KV_airlock_${REPO}_hosts`;
  return `{
      publish: { allow: [
        "$JS.API.INFO",
        "$JS.API.STREAM.INFO.${meta}", "$JS.API.STREAM.INFO.${targets}", "$JS.API.STREAM.INFO.${hosts}",
        "$JS.API.DIRECT.GET.${meta}.>", "$JS.API.STREAM.MSG.GET.${meta}",
        "$JS.API.DIRECT.GET.${targets}.>", "$JS.API.STREAM.MSG.GET.${targets}",
        "$JS.API.CONSUMER.CREATE.${meta}", "$JS.API.CONSUMER.CREATE.${meta}.>",
        "$JS.API.CONSUMER.CREATE.${targets}", "$JS.API.CONSUMER.CREATE.${targets}.>",
        "$JS.API.CONSUMER.DELETE.${meta}.>", "$JS.API.CONSUMER.DELETE.${targets}.>",
        "$JS.FC.${meta}.>", "$JS.FC.${targets}.>",
        "$KV.airlock_${REPO}_hosts.*.${host}"
      ] }
      subscribe: { allow: ["_INBOX.>"] }
    }`;
}

function cli(dir: string, ...args: string[]): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, [CLI, ...args], { cwd: dir, encoding: 'utf8' });
}

describe('a fleet agent with only the permissions docs/fleet.md gives it', () => {
  const cleanup = cleanupAfter();

  it('follows the channel and beats, and can change nothing else', async () => {
    const nats = await NatsServer.single(
      cleanup,
      `authorization: {
  users: [
    { user: publisher, password: pub }
    { user: host-a, password: a, permissions: ${agentPermissions('host-a')} }
  ]
}
`,
    );
    const address = `127.0.0.1:${nats.port}`;
    const repo = `nats://publisher:pub@${address}/${REPO}`;
    const publisher = tempProject();
    cleanup(() => removeProject(publisher));
    const publish = (version: number) => {
      writeFileSync(join(publisher, 'app.cjs'), `require('node:http').createServer((req, res) => res.end('v${version}')).listen(Number(process.env.PORT), '127.0.0.1');\n`);
      return cli(publisher, 'release', 'publish', repo, 'app.cjs', '--keys', 'keys', '--service', 'web', '--channel', 'stable', '--version', String(version));
    };
    const init = cli(publisher, 'release', 'init', repo, '--keys', 'keys');
    assert.equal(init.status, 0, init.stderr);
    assert.equal(publish(1).status, 0);

    const dir = tempProject();
    cleanup(() => removeProject(dir));
    mkdirSync(join(dir, 'trust'));
    copyFileSync(join(publisher, 'keys', '1.root.json'), join(dir, 'trust', 'root.json'));
    const [port] = await freePorts(1);
    writeFileSync(
      join(dir, 'airlock.yaml'),
      `services:\n  web:\n    run: { cmd: "node {artifact}" }\n    listen: 127.0.0.1:${port}\n    health: { http: { path: / } }\n    release: { from: "nats://host-a:a@${address}/${REPO}", channel: stable, trust: trust/root.json, poll: 30s }\n`,
    );
    const agent = new AirlockRun(['agent', '--host', 'host-a', '--log-format', 'json'], dir);
    cleanup(() => agent.kill());
    await agent.waitForEvent('release.applied', { version: 1 }, 60_000, 0);
    // The watch works with these rights: a publish reaches the agent before its 30 s poll.
    assert.equal(publish(2).status, 0);
    await agent.waitForEvent('release.applied', { version: 2 }, 20_000, 0);
    assert.equal(await getOnce(port as number), 'v2');

    // Its heartbeat arrives (it may write SERVICE.host-a).
    let status = cli(publisher, 'fleet', 'status', '--channel', `${repo}/stable`);
    for (let i = 0; i < 50 && !/^host-a\s+web\s+2\s+serving/m.test(status.stdout); i++) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      status = cli(publisher, 'fleet', 'status', '--channel', `${repo}/stable`);
    }
    assert.match(status.stdout, /^host-a\s+web\s+2\s+serving/m, status.stdout + status.stderr);
    assert.doesNotMatch(nats.log, /Violation/, nats.log);

    // The same user can change nothing else: publishing, the metadata, another host's heartbeat.
    const asAgent = cli(publisher, 'release', 'publish', `nats://host-a:a@${address}/${REPO}`, 'app.cjs', '--keys', 'keys', '--service', 'web', '--channel', 'stable', '--version', '3');
    assert.notEqual(asAgent.status, 0);
    assert.match(asAgent.stderr, /the server refused it: Permissions Violation[^\n]*docs\/fleet.md\)\n\s*AIRLOCK_ERR_NATS_UNREACHABLE/, asAgent.stderr);
    const nc = await connect({ servers: address, user: 'host-a', pass: 'a' });
    cleanup(() => nc.close());
    const kvm = new Kvm(nc);
    const meta = await kvm.open(`airlock_${REPO}_meta`, { bindOnly: true });
    await assert.rejects(meta.put('timestamp.json', '{}'));
    const beats = await kvm.open(`airlock_${REPO}_hosts`, { bindOnly: true });
    await assert.rejects(beats.put('web.host-b', '{}'));
    assert.match(cli(publisher, 'release', 'verify', repo, '--trust', join(publisher, 'keys', '1.root.json'), '--service', 'web', '--channel', 'stable').stdout, /\b2\b/);
  });
});
