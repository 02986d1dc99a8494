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
