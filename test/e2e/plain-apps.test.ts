import assert from 'node:assert/strict';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { AirlockRun, ROOT, cleanupAfter, freePort, removeProject, tempProject } from './helpers.ts';
import { Load } from '../../scripts/http-load.ts';

/** A copy of the plain Go app (no airlock helper: a plain LISTEN_FDS listener and Shutdown()). */
export function plainGoProject(): string {
  const dir = tempProject();
  cpSync(join(ROOT, 'test', 'fixtures', 'plain-go'), dir, { recursive: true });
  return dir;
}

function setGreeting(dir: string, text: string): void {
  const main = join(dir, 'main.go');
  writeFileSync(main, readFileSync(main, 'utf8').replace(/const greeting = ".*"/, `const greeting = "${text}"`));
}

const RELOADS = 8;

for (const handoff of ['fd', 'proxy', 'tcp-proxy'] as const) {
  describe(`a plain Go app (LISTEN_FDS, Shutdown) under handoff: ${handoff}`, () => {
    const cleanup = cleanupAfter();

    it(`airlock stays up over ${RELOADS} reloads under keep-alive load and serves every version`, async () => {
      const dir = plainGoProject();
      cleanup(() => removeProject(dir));
      const port = await freePort();
      writeFileSync(join(dir, 'airlock.yaml'), `services:\n  plain:\n    go: { main: . }\n    listen: 127.0.0.1:${port}\n    handoff: ${handoff}\n`);
      const run = new AirlockRun(['dev', '--log-format', 'json'], dir);
      cleanup(() => run.kill());
      await run.waitForEvent('reload.ready', { generation: 1 }, 120_000);
      const load = new Load(port);
      cleanup(() => load.stop());
      await load.until('plain v0');
      for (let i = 1; i <= RELOADS; i++) {
        const since = run.events.length;
        setGreeting(dir, `plain v${i}`);
        await run.waitForEvent('reload.ready', {}, 60_000, since);
        await load.until(`plain v${i}`);
      }
      await load.stop();
      // Plain Shutdown() closes idle keep-alive connections at once: in fd and tcp-proxy a
      // non-retrying client loses what it was sending (docs/strategies.md). proxy loses none.
      if (handoff === 'proxy') assert.deepEqual(load.failures, [], `${load.failures.length} failed of ${load.ok + load.failures.length}`);
      assert.equal(run.child.exitCode, null, `airlock is still running; output:\n${run.output()}`);
      assert.equal(run.lines.filter((line) => /double free|Unhandled 'error'|AIRLOCK_ERR_INTERNAL/.test(line)).length, 0, run.output());
      const { code } = await run.interrupt();
      assert.equal(code, 0);
    });
  });
}
