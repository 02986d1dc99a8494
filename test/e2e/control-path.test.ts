import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { AirlockRun, CLI, removeProject, tempProject, cleanupAfter } from './helpers.ts';

describe('a project deeper than a unix socket path allows', () => {
  const cleanup = cleanupAfter();

  it('still serves the control API, and status finds it', async () => {
    const root = tempProject();
    cleanup(() => removeProject(root));
    // .airlock/control.sock under this directory is well over the 108 bytes of sun_path.
    const dir = join(root, 'a-rather-long-directory-name-for-a-project'.repeat(3), 'services', 'api');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'airlock.yaml'), `services:\n  app:\n    run: { cmd: "node -e 'setInterval(() => {}, 1000)'" }\n`);
    const run = new AirlockRun(['dev', '--log-format', 'json'], dir);
    cleanup(() => run.kill());
    const ready = await run.waitForEvent('reload.ready', {}, 30_000, 0);
    const status = spawnSync(process.execPath, [CLI, 'status', '--json'], { cwd: dir, encoding: 'utf8' });
    assert.equal(status.status, 0, status.stderr);
    assert.equal(JSON.parse(status.stdout).services[0].pid, ready.pid);
    assert.equal((await run.interrupt()).code, 0);
  });
});

describe('status and reload from a subdirectory of the project', () => {
  const cleanup = cleanupAfter();

  for (const withFile of [true, false]) {
    it(`find the airlock running above, as git does (${withFile ? 'airlock.yaml' : 'no config file: flags'})`, async () => {
      const dir = tempProject();
      cleanup(() => removeProject(dir));
      const deep = join(dir, 'internal', 'store');
      mkdirSync(deep, { recursive: true });
      const args = ['dev', '--log-format', 'json'];
      if (withFile) writeFileSync(join(dir, 'airlock.yaml'), `services:\n  app:\n    run: { cmd: "node -e 'setInterval(() => {}, 1000)'" }\n`);
      else args.push('--run', "node -e 'setInterval(() => {}, 1000)'");
      const run = new AirlockRun(args, dir);
      cleanup(() => run.kill());
      const ready = await run.waitForEvent('reload.ready', {}, 30_000, 0);
      const status = spawnSync(process.execPath, [CLI, 'status', '--json'], { cwd: deep, encoding: 'utf8' });
      assert.equal(status.status, 0, status.stderr);
      assert.equal(JSON.parse(status.stdout).services[0].pid, ready.pid);
      const reload = spawnSync(process.execPath, [CLI, 'reload'], { cwd: deep, encoding: 'utf8' });
      assert.equal(reload.status, 0, reload.stderr);
      await run.waitForEvent('reload.ready', { generation: 2 }, 30_000, 0);
      assert.equal((await run.interrupt()).code, 0);
    });
  }
});
