import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { mkdirSync, copyFileSync } from 'node:fs';
import { create } from 'tar';
import { Updater } from 'tuf-js';
import { Load } from '../../scripts/http-load.ts';
import { AirlockRun, CLI, cleanupAfter, freePort, getOnce, removeProject, tempProject } from './helpers.ts';

/**
 * Signed releases end to end with the built CLI: `airlock release init|publish`, and
 * `airlock agent` following the channel, applying each verified release through the proxy
 * and its health gate. The app is a plain Node script carried as the release file (no
 * airlock helper), answering its version on $PORT.
 */
function app(version: string, crash = false, startDelayMs = 0): string {
  return `${crash ? 'process.exit(3);\n' : ''}${startDelayMs ? `const until = Date.now() + ${startDelayMs}; while (Date.now() < until);\n` : ''}const server = require('node:http').createServer((req, res) => res.end('${version}'));
server.listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => { server.close(); setTimeout(() => process.exit(0), 200); });
`;
}

function cli(dir: string, ...args: string[]): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, [CLI, ...args], { cwd: dir, encoding: 'utf8' });
}

/** A temp project with a release channel (init done) and how to publish the app as version N. */
function channelProject(cleanup: ReturnType<typeof cleanupAfter>) {
  const dir = tempProject();
  cleanup(() => removeProject(dir));
  assert.equal(cli(dir, 'release', 'init', 'channel', '--keys', 'keys').status, 0);
  const publish = (file: string, version: number) => {
    const published = cli(dir, 'release', 'publish', 'channel', file, '--keys', 'keys', '--service', 'web', '--channel', 'stable', '--version', String(version));
    assert.equal(published.status, 0, published.stderr);
  };
  const publishApp = (version: number, crash = false, startDelayMs = 0) => {
    writeFileSync(join(dir, 'app.cjs'), app(`v${version}`, crash, startDelayMs));
    publish('app.cjs', version);
  };
  return { dir, publish, publishApp };
}

describe('airlock agent: signed releases through the same swap', () => {
  const cleanup = cleanupAfter();

  it('applies each new release with 0 failed requests, keeps the good one when a release fails its gate, and remembers the bad mark across a restart', async () => {
    const { dir, publishApp } = channelProject(cleanup);
    const port = await freePort();
    publishApp(1);
    writeFileSync(
      join(dir, 'airlock.yaml'),
      `services:\n  web:\n    run: { cmd: "node {artifact}" }\n    listen: 127.0.0.1:${port}\n    health: { http: { path: / } }\n    stop: { drain: 2s }\n    release: { from: channel, channel: stable, trust: keys/1.root.json, poll: 200ms }\n`,
    );
    let run = new AirlockRun(['agent', '--log-format', 'json'], dir);
    cleanup(() => run.kill());
    await run.waitForEvent('release.applied', { version: 1 });
    assert.equal(await getOnce(port), 'v1');

    // A client that does not retry, across three releases applied in a row.
    const load = new Load(port, 4);
    for (const version of [2, 3, 4]) {
      publishApp(version);
      await run.waitForEvent('release.applied', { version });
      await load.until(`v${version}`);
    }
    await load.stop();
    assert.deepEqual(load.failures, []);
    assert.ok(load.ok > 0);

    publishApp(5, true);
    const rolledBack = await run.waitForEvent('release.rolled_back', { version: 5 });
    assert.match(String(rolledBack.reason), /exited|crashed|before it was ready/i);
    assert.equal(await getOnce(port), 'v4');
    const state = JSON.parse(readFileSync(join(dir, '.airlock', 'release', 'web', 'state.json'), 'utf8')) as { highest: number; bad: Record<string, string> };
    assert.equal(state.highest, 4);
    assert.ok(state.bad['5'], 'the bad mark is on disk');

    assert.equal((await run.interrupt()).code, 0);
    run = new AirlockRun(['agent', '--log-format', 'json'], dir);
    cleanup(() => run.kill());
    // After a restart it serves v4 again, never v5.
    await run.waitForEvent('release.applied', { version: 4 });
    assert.equal(await getOnce(port), 'v4');
    assert.equal(run.events.filter((e) => e.type === 'release.applied' && e.version === 5).length, 0);
    assert.equal((await run.interrupt()).code, 0);
  });

  it('refuses a tampered release and keeps serving; verify says why and exits 1', async () => {
    const { dir, publishApp } = channelProject(cleanup);
    publishApp(1);
    const ok = cli(dir, 'release', 'verify', 'channel', '--trust', 'keys/1.root.json', '--service', 'web', '--channel', 'stable');
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /^web 1 on stable: web\/stable\/1\/app\.cjs, \d+ bytes, sha256 [0-9a-f]{64}: verified/);
    // Someone with write access to the channel, but not the keys, changes the metadata.
    const targets = join(dir, 'channel', 'metadata', '2.targets.json');
    writeFileSync(targets, readFileSync(targets, 'utf8').replace('"version": 1', '"version": 7'));
    const refused = cli(dir, 'release', 'verify', 'channel', '--trust', 'keys/1.root.json', '--service', 'web', '--channel', 'stable');
    assert.equal(refused.status, 1);
    assert.match(refused.stderr, /AIRLOCK_ERR_RELEASE_REFUSED/);
    const again = cli(dir, 'release', 'publish', 'channel', 'app.cjs', '--keys', 'keys', '--service', 'web', '--channel', 'stable', '--version', '0');
    assert.equal(again.status, 1);
    assert.match(again.stderr, /--version expects a whole number of at least 1/);
  });

  it('serves a repository any TUF client reads: a fresh tuf-js Updater given only the root, over `airlock release serve`', async () => {
    const { dir, publishApp } = channelProject(cleanup);
    publishApp(1);
    assert.equal(cli(dir, 'release', 'rotate-root', 'channel', '--keys', 'keys', '--also', 'timestamp').status, 0);
    const port = await freePort();
    const serve = new AirlockRun(['release', 'serve', 'channel', '--listen', String(port)], dir);
    cleanup(() => serve.kill());
    await serve.waitForLine(/^serving channel on http:\/\/127\.0\.0\.1:\d+\//);
    const metadataDir = join(dir, 'client');
    mkdirSync(metadataDir);
    copyFileSync(join(dir, 'keys', '1.root.json'), join(metadataDir, 'root.json'));
    const base = `http://127.0.0.1:${port}`;
    const updater = new Updater({ metadataDir, metadataBaseUrl: `${base}/metadata/`, targetBaseUrl: `${base}/targets/`, targetDir: join(dir, 'client') });
    await updater.refresh();
    const info = await updater.getTargetInfo('web/stable/1/app.cjs');
    assert.deepEqual(info?.custom, { service: 'web', channel: 'stable', version: 1 });
    const file = await updater.downloadTarget(info!, join(metadataDir, 'app.cjs'));
    assert.equal(readFileSync(file, 'utf8'), app('v1'));
    // Nothing outside the repository is served, whatever the path says.
    const escape = await fetch(`${base}/%2e%2e/keys/root.key`);
    assert.equal(escape.status, 404);
    assert.equal((await serve.interrupt()).code, 0);
  });

  it('converges after a SIGKILL while a download was half done and while the new release was starting', async () => {
    const { dir, publishApp } = channelProject(cleanup);
    const port = await freePort();
    publishApp(1);
    writeFileSync(
      join(dir, 'airlock.yaml'),
      `services:\n  web:\n    run: { cmd: "node {artifact}" }\n    listen: 127.0.0.1:${port}\n    health: { http: { path: / }, startTimeout: 60s }\n    release: { from: channel, channel: stable, trust: keys/1.root.json, poll: 200ms }\n`,
    );
    let run = new AirlockRun(['agent', '--log-format', 'json'], dir);
    cleanup(() => run.kill());
    await run.waitForEvent('release.applied', { version: 1 });

    // v2 takes 3 s to start: the agent is SIGKILLed while it starts.
    publishApp(2, false, 3_000);
    const started = await run.waitForMatch((e) => e.type === 'process.started' && e.generation === 2);
    // What a download cut short leaves behind: a temp file in the store.
    writeFileSync(join(dir, '.airlock', 'store', 'sha256', '.deadbeef.1.download'), 'partial');
    run.child.kill('SIGKILL');
    await run.exited;
    // Its reaper ends what it started: g2 goes even though airlock could not stop it.
    const pid = started.pid as number;
    await waitGone(pid);

    run = new AirlockRun(['agent', '--log-format', 'json'], dir);
    cleanup(() => run.kill());
    const applied = await run.waitForEvent('release.applied');
    assert.equal(applied.version, 2, 'neither marked bad nor skipped: v2 is applied once it starts');
    assert.equal(await getOnce(port), 'v2');
    const state = JSON.parse(readFileSync(join(dir, '.airlock', 'release', 'web', 'state.json'), 'utf8')) as { highest: number; applied: { version: number }; bad: Record<string, string> };
    assert.deepEqual([state.highest, state.applied.version, state.bad], [2, 2, {}]);
    assert.deepEqual(readdirSync(join(dir, '.airlock', 'store', 'sha256')).filter((name) => name.startsWith('.')), [], 'no temp file left');
    assert.equal((await run.interrupt()).code, 0);
  });
});

describe('airlock agent: a Node app released as a .tar.gz', () => {
  const cleanup = cleanupAfter();

  it('unpacks the verified archive and runs the app from it ({artifact} is its root)', async () => {
    const { dir, publish } = channelProject(cleanup);
    const port = await freePort();
    mkdirSync(join(dir, 'build', 'lib'), { recursive: true });
    writeFileSync(join(dir, 'build', 'lib', 'version.js'), "module.exports = 'from the tarball';\n");
    writeFileSync(join(dir, 'build', 'server.js'), app('x').replace("res.end('x')", "res.end(require('./lib/version.js'))"));
    await create({ file: join(dir, 'app.tar.gz'), gzip: true, cwd: join(dir, 'build'), portable: true }, ['server.js', 'lib']);
    publish('app.tar.gz', 1);
    writeFileSync(
      join(dir, 'airlock.yaml'),
      `services:\n  web:\n    run: { cmd: "node {artifact}/server.js" }\n    listen: 127.0.0.1:${port}\n    health: { http: { path: / } }\n    release: { from: channel, channel: stable, trust: keys/1.root.json }\n`,
    );
    const run = new AirlockRun(['agent', '--log-format', 'json'], dir);
    cleanup(() => run.kill());
    await run.waitForEvent('release.applied', { version: 1 });
    assert.equal(await getOnce(port), 'from the tarball');
    assert.equal((await run.interrupt()).code, 0);
  });
});

/** Resolves once the process is gone (a zombie counts as gone). */
async function waitGone(pid: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    let state: string | undefined;
    try {
      state = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0];
    } catch {
      return;
    }
    if (state === 'Z') return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`process ${pid} still runs 10 s after airlock was killed`);
}
