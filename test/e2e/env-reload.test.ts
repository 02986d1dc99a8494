import assert from 'node:assert/strict';
import { renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { setTimeout } from 'node:timers/promises';
import { Load } from '../../scripts/http-load.ts';
import { AirlockRun, freePort, removeProject, ROOT, tempProject, cleanupAfter } from './helpers.ts';

const APP = join(ROOT, 'test', 'fixtures', 'env-app.mjs');

describe('env file changes', () => {
  const cleanup = cleanupAfter();

  it('swap to a generation started with the new environment, without a rebuild and without failing a request', async () => {
    const dir = tempProject();
    cleanup(() => removeProject(dir));
    const port = await freePort();
    writeFileSync(join(dir, '.env'), 'GREETING=hello\n');
    writeFileSync(
      join(dir, 'airlock.yaml'),
      `services:\n  app:\n    build: { cmd: "true" }\n    run: { cmd: node ${APP}, envFile: .env }\n    listen: ${port}\n    handoff: proxy\n    watch: { include: ["*.mjs"] }\n`,
    );
    const run = new AirlockRun(['dev', '--log-format', 'json'], dir);
    cleanup(() => run.kill());
    await run.waitForEvent('reload.ready', { generation: 1 }, 30_000);
    const load = new Load(port, 4);
    cleanup(() => load.stop());
    await load.until('hello');
    const since = run.events.length;

    // A writer that truncates then writes, and an editor that writes a temp file and renames it.
    writeFileSync(join(dir, '.env'), 'GREETING=bonjour\n');
    await load.until('bonjour');
    writeFileSync(join(dir, '.env.tmp'), 'GREETING=hallo\n');
    renameSync(join(dir, '.env.tmp'), join(dir, '.env'));
    await load.until('hallo');
    // An editor that keeps a backup (vim's default): rename the file away, write a new one,
    // delete the backup. A slow one leaves the file missing for a moment: that is no change.
    renameSync(join(dir, '.env'), join(dir, '.env~'));
    await setTimeout(300);
    writeFileSync(join(dir, '.env'), 'GREETING=backup-swap\n');
    unlinkSync(join(dir, '.env~'));
    await load.until('backup-swap');
    // A slow truncate-then-write: the empty file in between never reaches a generation.
    writeFileSync(join(dir, '.env'), '');
    await setTimeout(300);
    writeFileSync(join(dir, '.env'), 'GREETING=after-empty\n');
    await load.until('after-empty');
    assert.ok(!load.seen.has('(unset)'), 'no generation started with the empty file');

    // A rapid series of 50 edits ends on the last one.
    for (let i = 0; i < 50; i++) writeFileSync(join(dir, '.env'), `GREETING=rapid-${i}\n`);
    await load.until('rapid-49');

    await load.stop();
    assert.deepEqual(load.failures, []);
    const ready = run.events.slice(since).filter((e) => e.type === 'reload.ready');
    assert.ok(ready.length >= 2 && ready.every((e) => (e.reason as string[]).includes('.env changed')), JSON.stringify(ready));
    assert.equal(run.events.slice(since).filter((e) => e.type === 'build.started').length, 0, 'no rebuild');
  });

  it('a reload while an env file is missing fails with a clear error and the running generation keeps serving', async () => {
    const dir = tempProject();
    cleanup(() => removeProject(dir));
    const port = await freePort();
    writeFileSync(join(dir, '.env'), 'GREETING=kept\n');
    writeFileSync(
      join(dir, 'airlock.yaml'),
      `services:\n  app:\n    run: { cmd: node ${APP}, envFile: .env }\n    listen: ${port}\n    handoff: proxy\n    watch: { include: ["*.mjs"] }\n`,
    );
    const run = new AirlockRun(['dev', '--log-format', 'json'], dir);
    cleanup(() => run.kill());
    const first = await run.waitForEvent('reload.ready', { generation: 1 }, 30_000);
    const load = new Load(port, 2);
    cleanup(() => load.stop());
    await load.until('kept');

    unlinkSync(join(dir, '.env'));
    run.child.kill('SIGHUP');
    const failed = await run.waitForEvent('reload.failed', {}, 30_000);
    assert.equal(failed.code, 'AIRLOCK_ERR_ENV_FILE');
    assert.match(String(failed.message), /\.env/);
    assert.equal(getPid(run), first.pid);

    // Back again: the next reload starts with it.
    writeFileSync(join(dir, '.env'), 'GREETING=restored\n');
    await load.until('restored');
    await load.stop();
    assert.deepEqual(load.failures, []);
  });
  it('a service that went down while its env file was missing starts again once the file is back, even unchanged', async () => {
    const dir = tempProject();
    cleanup(() => removeProject(dir));
    writeFileSync(join(dir, '.env'), 'GREETING=same\n');
    // Crashes 300 ms after each start: every restart reads the env file again.
    writeFileSync(
      join(dir, 'airlock.yaml'),
      `services:\n  app:\n    run: { cmd: "node -e 'setTimeout(() => process.exit(1), 300)'", envFile: .env }\n    watch: { include: ["*.mjs"] }\n`,
    );
    const run = new AirlockRun(['dev', '--log-format', 'json'], dir);
    cleanup(() => run.kill());
    await run.waitForEvent('process.exited', {}, 30_000, 0);
    unlinkSync(join(dir, '.env'));
    await run.waitForEvent('reload.failed', { code: 'AIRLOCK_ERR_ENV_FILE' }, 30_000);
    const since = run.events.length;
    writeFileSync(join(dir, '.env'), 'GREETING=same\n');
    await run.waitForEvent('process.started', {}, 30_000, since);
  });
});

function getPid(run: AirlockRun): unknown {
  return [...run.events].reverse().find((e) => e.type === 'reload.ready')?.pid;
}
