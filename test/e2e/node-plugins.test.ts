import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { AirlockRun, cleanupAfter, exampleOnFreePort, getOnce, getUntil } from './helpers.ts';

/**
 * examples/node-plugins under airlock dev: a plugin edit is announced by airlock
 * (plugin.changed on the control socket) and swapped by the app's own plugin host (no
 * new generation, same pid), while the app's own files still reload.
 */
describe('examples/node-plugins: plugins swapped inside the running service', () => {
  const cleanup = cleanupAfter();

  /** Saves a file the way editors do: a temp file renamed over it. */
  const save = (file: string, text: string) => {
    writeFileSync(`${file}.tmp`, text);
    renameSync(`${file}.tmp`, file);
  };

  it('answers /call and /plugins, swaps an edited plugin without a restart, and keeps the counter across the swap', async () => {
    const { dir, port, yamlPath } = await exampleOnFreePort('node-plugins', '127.0.0.1:3002', cleanup);
    const run = new AirlockRun(['dev', '--log-format', 'json'], dir);
    cleanup(() => run.kill());
    const ready = await run.waitForEvent('reload.ready', { generation: 1 }, 60_000, 0);

    assert.equal(await getOnce(port, '/call/greet/hello?arg=ada'), JSON.stringify({ result: 'hello ada' }));
    assert.equal(await getOnce(port, '/call/counter/increment'), JSON.stringify({ result: 1 }));
    assert.equal(await getOnce(port, '/call/counter/increment'), JSON.stringify({ result: 2 }));
    const list = JSON.parse((await getOnce(port, '/plugins')) as string) as { name: string; state: string; generation: number }[];
    assert.deepEqual(list.map((p) => [p.name, p.state, p.generation]), [['counter', 'active', 1], ['greet', 'active', 1]]);
    assert.deepEqual(JSON.parse((await getOnce(port, '/call/nosuch/x')) as string), { error: 'no plugin named "nosuch"; loaded: counter, greet' });

    const since = run.events.length;
    const greet = join(dir, 'plugins', 'greet', 'index.js');
    save(greet, readFileSync(greet, 'utf8').replace('return `${greeting} ${name', 'return `${greeting.toUpperCase()} ${name'));
    await getUntil(port, '/call/greet/hello?arg=ada', (body) => body === JSON.stringify({ result: 'HELLO ada' }), 'the new greet');
    const counter = join(dir, 'plugins', 'counter', 'plugin.json');
    save(counter, readFileSync(counter, 'utf8').replace('"1.0.0"', '"1.1.0"'));
    await getUntil(port, '/plugins', (body) => body.includes('"version":"1.1.0"'), 'the new counter');
    assert.equal(await getOnce(port, '/call/counter/increment'), JSON.stringify({ result: 3 }), 'the count survived the swap');

    assert.deepEqual(run.events.slice(since).filter((e) => ['change.detected', 'reload.ready', 'process.started'].includes(e.type)), [], 'airlock restarted nothing');
    assert.ok(run.events.slice(since).some((e) => e.type === 'process.output' && /plugin greet 1\.0\.0 g2: active/.test(String(e.line))));
    // airlock watched the directory and told the host (which does not watch it itself then).
    assert.ok(run.events.some((e) => e.type === 'process.output' && String(e.line) === 'plugin changes: told by airlock'), run.output());
    const notices = run.events.slice(since).filter((e) => e.type === 'plugin.changed').map((e) => [e.plugin, e.paths]);
    assert.deepEqual(notices, [['greet', ['plugins/greet/index.js']], ['counter', ['plugins/counter/plugin.json']]]);

    // A new plugin made the way a file manager or a checkout makes it: the directory first,
    // its files later. The empty directory is news but nothing to load; then it loads.
    const later = run.events.length;
    const shout = join(dir, 'plugins', 'shout');
    mkdirSync(shout);
    await run.waitForMatch((e) => e.type === 'plugin.changed' && e.plugin === 'shout', 30_000, later);
    save(join(shout, 'index.js'), 'export function loud(text) { return String(text).toUpperCase(); }\n');
    save(join(shout, 'plugin.json'), JSON.stringify({ name: 'shout', version: '1.0.0', main: 'index.js', host: '^1' }));
    await getUntil(port, '/call/shout/loud?arg=hey', (body) => body === JSON.stringify({ result: 'HEY' }), 'the new plugin');
    const failures = run.events.slice(later).filter((e) => e.type === 'process.output' && /shout.*failed/.test(String(e.line)));
    assert.deepEqual(failures, [], 'the empty directory was no failure');
    // (A removal seen half done, plugin.json gone but not the directory, may say "failed" once before it unloads.)
    rmSync(shout, { recursive: true });
    await getUntil(port, '/plugins', (body) => !body.includes('"shout"'), 'the removed plugin unloaded');
    assert.equal(run.events.filter((e) => e.type === 'process.exited').length, 0);
    assert.equal(ready.pid, run.events.find((e) => e.type === 'process.started')?.pid);

    // airlock.yaml names another plugin directory: a new generation of the same build,
    // told where airlock watches now (not the host's ./plugins: so it watches that itself).
    const edited = run.events.length;
    mkdirSync(join(dir, 'more'));
    writeFileSync(yamlPath, readFileSync(yamlPath, 'utf8').replace('plugins: { dir: plugins }', 'plugins: { dir: more }'));
    const next = await run.waitForEvent('reload.ready', {}, 60_000, edited);
    const env = readFileSync(`/proc/${next.pid as number}/environ`, 'utf8').split('\0');
    assert.ok(env.includes(`AIRLOCK_PLUGINS_WATCHED=${join(dir, 'more')}`), env.filter((v) => v.startsWith('AIRLOCK_')).join(' '));
    await run.waitForMatch((e) => e.type === 'process.output' && e.generation === next.generation && e.line === 'plugin changes: watched by this host', 30_000, edited);
    assert.equal((await run.interrupt()).code, 0);
  });
});
