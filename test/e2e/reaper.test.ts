import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { setTimeout } from 'node:timers/promises';
import { AirlockRun, isAlive, removeProject, tempProject, cleanupAfter } from './helpers.ts';

/** Resolves once none of the pids is alive (zombies count as dead), or throws after timeoutMs. */
async function allEnded(pids: readonly number[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (pids.some(isAlive)) {
    if (Date.now() > deadline) throw new Error(`still alive: ${pids.filter(isAlive).join(', ')}`);
    await setTimeout(20);
  }
}

describe('airlock killed with SIGKILL', () => {
  const cleanup = cleanupAfter();

  it('leaves nothing behind: its reaper ends the service and a setsid grandchild', async () => {
    const dir = tempProject();
    cleanup(() => removeProject(dir));
    writeFileSync(
      join(dir, 'airlock.yaml'),
      `services:\n  app:\n    run: { cmd: "setsid sleep 300 & echo grandchild=$!; exec sleep 301" }\n    watch: { include: ["*.txt"] }\n`,
    );
    const run = new AirlockRun(['dev', '--log-format', 'json'], dir);
    cleanup(() => run.kill());
    const ready = await run.waitForEvent('reload.ready', {}, 30_000, 0);
    const line = await run.waitForLine(/grandchild=\d+/, 10_000, 0);
    const grandchild = Number(/grandchild=(\d+)/.exec(line)?.[1]);
    run.childPids.add(grandchild);
    const pids = [ready.pid as number, grandchild];
    assert.ok(pids.every(isAlive));

    run.child.kill('SIGKILL');
    await run.exited;
    await allEnded(pids, 10_000);
  });
});
