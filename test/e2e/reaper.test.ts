import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
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

/** Processes whose command line is exactly `argv`, found in /proc. */
function processesRunning(argv: readonly string[]): number[] {
  const wanted = `${argv.join('\0')}\0`;
  const found: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (readFileSync(`/proc/${name}/cmdline`, 'utf8') === wanted && isAlive(Number(name))) found.push(Number(name));
    } catch {
      // gone
    }
  }
  return found;
}

describe('descendants that double-fork with a cleared environment', () => {
  const cleanup = cleanupAfter();

  it('are ended with their generation at each reload and when airlock stops, which checks before saying nothing is left', async () => {
    const dir = tempProject();
    cleanup(() => removeProject(dir));
    // A unique duration, so the test finds its own escapees only.
    const seconds = `302.${process.pid}`;
    writeFileSync(join(dir, 'airlock.yaml'), `services:\n  app:\n    run: { cmd: "env -i setsid -f sleep ${seconds}; exec sleep 301" }\n`);
    const run = new AirlockRun(['run'], dir);
    cleanup(() => run.kill(), () => processesRunning(['sleep', seconds]).forEach((pid) => process.kill(pid, 'SIGKILL')));
    await run.waitForLine(/app g1 (ready|started)/, 30_000, 0);
    for (let i = 0; i < 100 && processesRunning(['sleep', seconds]).length === 0; i++) await setTimeout(20);
    const [first] = processesRunning(['sleep', seconds]);
    assert.ok(first !== undefined, 'g1 started its escapee');
    run.child.kill('SIGHUP');
    await run.waitForLine(/app g2 (ready|started)/, 30_000, 0);
    const settled = () => {
      const now = processesRunning(['sleep', seconds]);
      return now.length === 1 && now[0] !== first;
    };
    for (let i = 0; i < 250 && !settled(); i++) await setTimeout(20);
    assert.ok(!processesRunning(['sleep', seconds]).includes(first), "g1's escapee ended with g1");
    assert.equal(processesRunning(['sleep', seconds]).length, 1, "g2's escapee runs");
    const { code } = await run.interrupt();
    assert.equal(code, 0);
    assert.deepEqual(processesRunning(['sleep', seconds]), [], 'nothing of the service left after airlock stopped');
    assert.match(run.output(), /nothing left running/);
  });
});
