import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { AirlockRun, freePort, removeProject, tempProject, cleanupAfter } from './helpers.ts';
import { Load } from '../../scripts/http-load.ts';

const RELOADS = 20;

function setGreeting(dir: string, text: string): void {
  const main = join(dir, 'main.go');
  writeFileSync(main, readFileSync(main, 'utf8').replace(/const greeting = ".*"/, `const greeting = "${text}"`));
}

for (const handoff of ['fd', 'proxy', 'tcp-proxy', 'restart'] as const) {
  describe(`handoff: ${handoff}`, () => {
    const cleanup = cleanupAfter();

    it(`drops no request over ${RELOADS} reloads under keep-alive load, and serves every version`, async () => {
      const dir = tempProject('go-hello');
      cleanup(() => removeProject(dir));
      const port = await freePort();
      writeFileSync(
        join(dir, 'airlock.yaml'),
        `services:\n  hello:\n    go: { main: . }\n    listen: 127.0.0.1:${port}\n    handoff: ${handoff}\n    health: { http: { path: /healthz } }\n`,
      );
      const run = new AirlockRun(['dev', '--log-format', 'json'], dir);
      cleanup(() => run.kill());
      await run.waitForEvent('reload.ready', { generation: 1 }, 120_000);

      const load = new Load(port);
      cleanup(() => load.stop());
      await load.until('hello from go-hello');
      for (let i = 1; i <= RELOADS; i++) {
        const since = run.events.length;
        setGreeting(dir, `version ${i}`);
        await run.waitForEvent('reload.ready', {}, 60_000, since);
        await load.until(`version ${i}`);
      }
      await load.stop();
      assert.deepEqual(load.failures, [], `${load.failures.length} failed of ${load.ok + load.failures.length}`);
      for (let i = 1; i <= RELOADS; i++) assert.ok(load.seen.has(`version ${i}`), `version ${i} was served`);
      assert.ok(load.ok > RELOADS * 10, `${load.ok} requests`);
      const { code } = await run.interrupt();
      assert.equal(code, 0);
    });
  });
}
