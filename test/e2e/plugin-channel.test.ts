import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { AirlockRun, CLI, cleanupAfter, exampleOnFreePort, getOnce, getUntil } from './helpers.ts';

/**
 * Plugins from a signed channel: examples/node-plugins under `airlock run`, its airlock.yaml
 * given `plugins.release`. A plugin published with `airlock release publish --plugin`
 * reaches the app's plugin host verified and whole, runs sandboxed (deny by default), and
 * a tampered release, one for another service and an old channel put back never replace
 * the plugin that answers.
 */
function cli(dir: string, ...args: string[]): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, [CLI, ...args], { cwd: dir, encoding: 'utf8' });
}

/** The plugin's source at a version: it says its version, and what a read outside its directory gives. */
function writeShout(dir: string, version: number): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'index.mjs'),
    `import { readFileSync } from 'node:fs';
export const loud = (text) => 'v${version} ' + String(text).toUpperCase();
export const peek = () => { try { readFileSync('/etc/hostname'); return 'read it'; } catch (error) { return error.code; } };
`,
  );
  writeFileSync(join(dir, 'plugin.json'), JSON.stringify({ name: 'shout', version: `1.0.${version}`, main: 'index.mjs', host: '^1' }));
}

describe('plugins from a signed channel', () => {
  const cleanup = cleanupAfter();

  it('installs each verified release whole, sandboxed, and refuses a tampered one, one for another service and an old channel put back', async () => {
    const { dir, port, yamlPath } = await exampleOnFreePort('node-plugins', '127.0.0.1:3002', cleanup);
    const source = join(dir, 'plugin-src', 'shout');
    const publish = (version: number, into = 'rel/channel', service = 'plugins') => {
      writeShout(source, version);
      const published = cli(dir, 'release', 'publish', into, 'plugin-src/shout', '--plugin', 'shout', '--keys', 'rel/keys', '--service', service, '--channel', 'stable', '--version', String(version));
      assert.equal(published.status, 0, published.stderr);
    };
    const init = cli(dir, 'release', 'init', 'rel/channel', '--keys', 'rel/keys');
    assert.equal(init.status, 0, init.stderr);
    publish(1);
    cpSync(join(dir, 'rel', 'channel'), join(dir, 'rel', 'at-1'), { recursive: true });
    writeFileSync(yamlPath, readFileSync(yamlPath, 'utf8').replace('plugins: { dir: plugins }', 'plugins: { dir: plugins, release: { from: rel/channel, channel: stable, trust: rel/keys/1.root.json, poll: 300ms } }'));

    const run = new AirlockRun(['run', '--log-format', 'json'], dir);
    cleanup(() => run.kill());
    await run.waitForEvent('plugin.release.applied', { plugin: 'shout', version: 1 }, 60_000, 0);
    await run.waitForEvent('reload.ready', { generation: 1 }, 60_000, 0);
    await getUntil(port, '/call/shout/loud?arg=hi', (body) => body === JSON.stringify({ result: 'v1 HI' }), 'shout 1');
    // Deny by default: a plugin from a channel without permissions reads nothing outside its directory.
    assert.notEqual(JSON.parse((await getOnce(port, '/call/shout/peek')) as string).result, 'read it');
    assert.ok(existsSync(join(dir, 'plugins', 'shout', '.airlock-release.json')));

    publish(2);
    await run.waitForEvent('plugin.release.applied', { plugin: 'shout', version: 2 });
    await getUntil(port, '/call/shout/loud?arg=hi', (body) => body === JSON.stringify({ result: 'v2 HI' }), 'shout 2');

    // What airlock status and plugin verify say: the version, its digest, what it may do.
    const status = cli(dir, 'status');
    assert.match(status.stdout, /^plugins: plugin shout 2 from its channel, sha256 [0-9a-f]{12}, sandboxed: no files but its own · no network · no processes$/m, status.stdout + status.stderr);
    const verify = () => cli(dir, 'plugin', 'verify', 'rel/channel', '--trust', 'rel/keys/1.root.json', '--service', 'plugins', '--channel', 'stable');
    const verified = verify();
    assert.equal(verified.status, 0, verified.stderr);
    assert.match(verified.stdout, /^plugin shout 2 \(1\.0\.2\) on stable: sha256 [0-9a-f]{64}, verified; runs sandboxed with: no files but its own · no network · no processes$/m);

    // For another service: never installed here (the check that refuses version 3 below comes after it).
    publish(9, 'rel/channel', 'other');
    // Tampered: published into a copy, one byte of the archive changed, then put in place (files first).
    const staging = join(dir, 'rel', 'staging');
    cpSync(join(dir, 'rel', 'channel'), staging, { recursive: true });
    publish(3, 'rel/staging');
    const archive = join(staging, 'targets', 'plugins', 'stable', 'plugins', 'shout', '3');
    const [stored] = readdirSync(archive);
    const bytes = readFileSync(join(archive, stored as string));
    bytes[bytes.length - 10] = (bytes[bytes.length - 10] as number) ^ 0xff;
    writeFileSync(join(archive, stored as string), bytes);
    cpSync(join(staging, 'targets'), join(dir, 'rel', 'channel', 'targets'), { recursive: true });
    cpSync(join(staging, 'metadata'), join(dir, 'rel', 'channel', 'metadata'), { recursive: true });
    const tampered = await run.waitForEvent('plugin.release.refused', { plugin: 'shout', version: 3 });
    assert.equal(tampered.code, 'AIRLOCK_ERR_RELEASE_REFUSED');
    assert.equal(await getOnce(port, '/call/shout/loud?arg=hi'), JSON.stringify({ result: 'v2 HI' }));
    const refusedHere = verify();
    assert.equal(refusedHere.status, 1);
    assert.match(refusedHere.stdout, /^plugin shout 3: refused: .*hash/m);

    // An old channel put back (version 1's metadata): tuf-js refuses the rollback.
    const since = run.events.length;
    rmSync(join(dir, 'rel', 'channel'), { recursive: true });
    cpSync(join(dir, 'rel', 'at-1'), join(dir, 'rel', 'channel'), { recursive: true });
    const rolledBack = await run.waitForMatch((e) => e.type === 'plugin.release.refused' && e.plugin === undefined, 30_000, since);
    assert.equal(rolledBack.code, 'AIRLOCK_ERR_RELEASE_REFUSED');
    assert.equal(await getOnce(port, '/call/shout/loud?arg=hi'), JSON.stringify({ result: 'v2 HI' }));

    assert.deepEqual(run.events.filter((e) => e.type === 'plugin.release.applied').map((e) => e.version), [1, 2]);
    const marker = JSON.parse(readFileSync(join(dir, 'plugins', 'shout', '.airlock-release.json'), 'utf8')) as { version: number };
    assert.equal(marker.version, 2);
    // Nothing half-written is left where it was unpacked.
    assert.deepEqual(readdirSync(join(dir, '.airlock', 'plugins-incoming')), []);
  });
});
