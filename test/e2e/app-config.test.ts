import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { setTimeout } from 'node:timers/promises';
import { Load } from '../../scripts/http-load.ts';
import { AirlockRun, CLI, freePort, removeProject, ROOT, tempProject, cleanupAfter } from './helpers.ts';

const APP = join(ROOT, 'test', 'fixtures', 'config-app.mjs');
const SIGNAL_APP = join(ROOT, 'test', 'fixtures', 'signal-config-app.mjs');
const LAZY_APP = join(ROOT, 'test', 'fixtures', 'lazy-config-app.mjs');

describe('app config files, validated before a generation sees them', () => {
  const cleanup = cleanupAfter();

  it('rejects an invalid edit with file:line (nothing changes, no request fails), applies a valid one through the handoff', async () => {
    const dir = tempProject();
    cleanup(() => removeProject(dir));
    const port = await freePort();
    writeFileSync(join(dir, 'config.yaml'), 'greeting: hi\n');
    writeFileSync(
      join(dir, 'schema.json'),
      JSON.stringify({ type: 'object', required: ['greeting'], properties: { greeting: { type: 'string', minLength: 1 } } }),
    );
    writeFileSync(
      join(dir, 'airlock.yaml'),
      `services:\n  app:\n    run: { cmd: node ${APP} }\n    config: { files: [config.yaml], schema: schema.json }\n    listen: ${port}\n    watch: { include: ["*.mjs"] }\n`,
    );
    const run = new AirlockRun(['dev', '--log-format', 'json'], dir);
    cleanup(() => run.kill());
    await run.waitForEvent('reload.ready', { generation: 1 }, 30_000);
    const load = new Load(port, 4);
    cleanup(() => load.stop());
    await load.until('hi');

    let since = run.events.length;
    writeFileSync(join(dir, 'config.yaml'), 'color: blue\ngreeting: 5\n');
    const rejected = await run.waitForEvent('config.rejected', {}, 30_000, since);
    assert.equal(rejected.file, 'config.yaml');
    assert.equal(rejected.line, 2);
    assert.match(String(rejected.message), /^greeting must be string$/);
    const status = spawnSync(process.execPath, [CLI, 'status'], { cwd: dir, encoding: 'utf8' });
    assert.match(status.stdout, /app: config rejected, last good one in use: config\.yaml:2:11: greeting must be string/);
    assert.equal(run.events.slice(since).filter((e) => e.type === 'process.started').length, 0, 'nothing started');

    since = run.events.length;
    writeFileSync(join(dir, 'config.yaml.tmp'), 'greeting: hello again\n');
    renameSync(join(dir, 'config.yaml.tmp'), join(dir, 'config.yaml'));
    await run.waitForEvent('reload.ready', {}, 30_000, since);
    await load.until('hello again');

    // An editor that keeps a backup: the file is missing for a moment, which is no change.
    since = run.events.length;
    renameSync(join(dir, 'config.yaml'), join(dir, 'config.yaml~'));
    await setTimeout(300);
    writeFileSync(join(dir, 'config.yaml'), 'greeting: from backup-swap\n');
    unlinkSync(join(dir, 'config.yaml~'));
    await load.until('from backup-swap');
    assert.equal(run.events.slice(since).filter((e) => e.type === 'config.rejected').length, 0, 'the missing moment is not rejected');

    await load.stop();
    assert.deepEqual(load.failures, []);
    assert.ok(!load.seen.has('5'), 'the rejected value never reached a generation');
    const after = spawnSync(process.execPath, [CLI, 'status', '--json'], { cwd: dir, encoding: 'utf8' });
    assert.equal(JSON.parse(after.stdout).services[0].configRejected, undefined);
  });
});

describe('deliver: restart gives each generation its own snapshot', () => {
  const cleanup = cleanupAfter();

  it('the old generation keeps reading the old snapshot while it drains; its copy goes when it does', async () => {
    const dir = tempProject();
    cleanup(() => removeProject(dir));
    const port = await freePort();
    writeFileSync(join(dir, 'config.yaml'), 'greeting: old\n');
    writeFileSync(
      join(dir, 'airlock.yaml'),
      `services:\n  app:\n    run: { cmd: node ${LAZY_APP} }\n    config: { files: [config.yaml] }\n    listen: ${port}\n    watch: { include: ["*.mjs"] }\n`,
    );
    const run = new AirlockRun(['dev', '--log-format', 'json'], dir);
    cleanup(() => run.kill());
    await run.waitForEvent('reload.ready', { generation: 1 }, 30_000, 0);
    const first = String((await run.waitForEvent('process.output', { generation: 1 }, 30_000, 0)).line).replace('config file ', '');
    assert.match(first, /app\.g1\.json$/);
    const load = new Load(port, 4);
    cleanup(() => load.stop());
    await load.until('old');

    const since = run.events.length;
    writeFileSync(join(dir, 'config.yaml'), 'greeting: new\n');
    await run.waitForEvent('reload.ready', { generation: 2 }, 30_000, since);
    assert.deepEqual(JSON.parse(readFileSync(first, 'utf8')), { greeting: 'old' }, 'g1 still reads the old snapshot');
    await load.until('new');
    await run.waitForEvent('generation.drained', { generation: 1 }, 30_000, since);
    assert.ok(!existsSync(first), "g1's copy is removed once g1 is gone");
    await load.stop();
    assert.deepEqual(load.failures, []);
  });
});

describe('deliver: signal', () => {
  const cleanup = cleanupAfter();

  it('replaces the snapshot file and signals the running generation, which swaps it in without a restart', async () => {
    const dir = tempProject();
    cleanup(() => removeProject(dir));
    const port = await freePort();
    writeFileSync(join(dir, 'config.yaml'), 'greeting: first\n');
    writeFileSync(
      join(dir, 'airlock.yaml'),
      `services:\n  app:\n    run: { cmd: node ${SIGNAL_APP} }\n    config: { files: [config.yaml], deliver: signal, signal: SIGUSR2 }\n    listen: ${port}\n    watch: { include: ["*.mjs"] }\n`,
    );
    const run = new AirlockRun(['dev', '--log-format', 'json'], dir);
    cleanup(() => run.kill());
    await run.waitForEvent('reload.ready', { generation: 1 }, 30_000);
    const load = new Load(port, 4);
    cleanup(() => load.stop());
    await load.until('first');
    const since = run.events.length;
    writeFileSync(join(dir, 'config.yaml'), 'greeting: second\n');
    await run.waitForEvent('config.accepted', {}, 30_000, since);
    await load.until('second');
    await load.stop();
    assert.deepEqual(load.failures, []);
    assert.equal(run.events.slice(since).filter((e) => e.type === 'process.started').length, 0, 'same process');
  });
});
