import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { AirlockRun, cleanupAfter, exampleOnFreePort, getUntil } from './helpers.ts';

/**
 * examples/go-plugins under airlock dev: airlock builds the plugin to a new path per
 * build; the Go host opens the newest build that fits it (checked first), without a
 * restart; a plugin built against a shared package the host does not have yet is refused
 * by airlock before the app sees it; a new host gets every plugin built again for it.
 */
describe('examples/go-plugins: Go plugins built by airlock, opened by the host after a check', () => {
  const cleanup = cleanupAfter();

  const until = (port: number, test: (body: string) => boolean, what: string) => getUntil(port, '/greet?name=ada', test, what, 120_000);

  it('serves the plugin, swaps in a new build of it without a restart, and rebuilds it for a new host', async () => {
    const { dir, port } = await exampleOnFreePort('go-plugins', '127.0.0.1:8083', cleanup);
    const run = new AirlockRun(['dev', '--log-format', 'json'], dir);
    cleanup(() => run.kill());
    const ready = await run.waitForEvent('reload.ready', { generation: 1 }, 180_000, 0);
    await run.waitForEvent('plugin.built', { plugin: 'greet', build: 1 }, 180_000, 0);
    assert.match(await until(port, (b) => b.startsWith('hello ada'), 'the first build'), /^hello ada \(plugin build 1, host prefix "hello"\)/);

    let since = run.events.length;
    const plugin = join(dir, 'plugins', 'greet', 'main.go');
    writeFileSync(plugin, readFileSync(plugin, 'utf8').replace('greeting.Prefix + " " + name', 'greeting.Prefix + ", dear " + name'));
    // One save may reach the watcher as two changes (the file truncated, then written) on
    // a busy machine: the first build is then cancelled for the second, so any later build counts.
    const second = await run.waitForMatch((e) => e.type === 'plugin.built' && e.plugin === 'greet', 120_000, since);
    assert.match(await until(port, (b) => b.includes(`build ${second.build as number}`), 'the second build'), /^hello, dear ada \(plugin build \d+/);
    assert.deepEqual(run.events.slice(since).filter((e) => e.type === 'reload.ready' || e.type === 'change.detected'), [], 'the host was not rebuilt or restarted');
    assert.equal(run.events.filter((e) => e.type === 'process.started').at(-1)?.pid, ready.pid);

    // The shared package changes its API in a save that also breaks the host and edits the
    // plugin: the plugin is built against the new API while g1 still serves, so airlock
    // refuses it before the app could open it (a failed plugin.Open poisons the process).
    since = run.events.length;
    const shared = join(dir, 'greeting', 'greeting.go');
    const main = join(dir, 'main.go');
    const good = readFileSync(main, 'utf8');
    writeFileSync(main, `${good}\nvar broken = \n`);
    writeFileSync(shared, readFileSync(shared, 'utf8').replace('const Prefix = "hello"', 'const Prefix = "hi"\n\n// Excited is new API.\nconst Excited = true'));
    writeFileSync(plugin, readFileSync(plugin, 'utf8').replace('", dear "', '", dearest "'));
    // (A build of the file caught half-written would fail to compile first: the refusal is the one asked for.)
    const refused = await run.waitForMatch((e) => e.type === 'plugin.build.failed' && e.code === 'AIRLOCK_ERR_PLUGIN_MISMATCH', 120_000, since);
    assert.match(refused.message as string, /does not fit g1 \(greeter\.g1\): it was built with a different version of package example\.com\/go-plugins\/greeting than the host/);
    await run.waitForEvent('build.failed', {}, 120_000, since);
    assert.match(await until(port, (b) => b.startsWith('hello'), 'the kept build'), new RegExp(`^hello, dear ada \\(plugin build ${second.build as number},`));
    assert.equal(await getUntil(port, '/refused', () => true, 'the refusals the app saw', 10_000), '', 'the app never saw the refused build');

    // The host builds again: a new generation, and the plugin built again for it.
    since = run.events.length;
    writeFileSync(main, good);
    const host = await run.waitForEvent('reload.ready', {}, 120_000, since);
    const rebuilt = await run.waitForMatch((e) => e.type === 'plugin.built' && (e.build as number) > (refused.build as number), 120_000, since);
    assert.deepEqual(rebuilt.fits, [`g${host.generation as number}`]);
    const body = await until(port, (b) => b.includes(`build ${rebuilt.build as number}`), 'the plugin built for the new host');
    assert.match(body, /^hi, dearest ada \(plugin build \d+, host prefix "hi"\)/);
    assert.equal((await run.interrupt()).code, 0);
  });
});
