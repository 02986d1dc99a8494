import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { AirlockRun, ROOT, cleanupAfter, control, freePort, removeProject, tempProject } from './helpers.ts';
import { Load } from '../../scripts/http-load.ts';

/**
 * Apps written without the airlock helpers, the way people write them: a Go app that
 * takes a plain LISTEN_FDS listener (or $PORT) and calls http.Server.Shutdown() on
 * SIGTERM, and a Node app that calls server.close(). Counted with Node's http.Agent,
 * which does not retry.
 */
const PLAIN_GO = join(ROOT, 'test', 'fixtures', 'plain-go');
const PLAIN_NODE = join(ROOT, 'test', 'fixtures', 'plain-node.mjs');

function setGreeting(dir: string, text: string): void {
  const main = join(dir, 'main.go');
  writeFileSync(main, readFileSync(main, 'utf8').replace(/const greeting = ".*"/, `const greeting = "${text}"`));
}

/** airlock's own trouble: a crash, an abort, an internal error (the children's output aside). */
function ownTrouble(run: AirlockRun): string[] {
  return run.lines.filter((line) => !line.includes('"type":"process.output"') && /double free|Unhandled 'error'|AIRLOCK_ERR_INTERNAL/.test(line));
}

describe('plain apps (no airlock helper)', () => {
  const cleanup = cleanupAfter();

  async function start(yaml: (port: number) => string, dir: string) {
    const port = await freePort();
    writeFileSync(join(dir, 'airlock.yaml'), yaml(port));
    const run = new AirlockRun(['dev', '--log-format', 'json'], dir);
    cleanup(() => run.kill());
    await run.waitForEvent('reload.ready', { generation: 1 }, 120_000);
    const load = new Load(port);
    cleanup(() => load.stop());
    return { port, run, load };
  }

  for (const handoff of ['fd', 'tcp-proxy'] as const) {
    it(`Go, handoff: ${handoff}: airlock stays up over 8 reloads under keep-alive load and serves every version`, async () => {
      const dir = tempProject();
      cleanup(() => removeProject(dir));
      cpSync(PLAIN_GO, dir, { recursive: true });
      const { run, load } = await start((port) => `services:\n  plain:\n    go: { main: . }\n    listen: 127.0.0.1:${port}\n    handoff: ${handoff}\n`, dir);
      await load.until('plain v0');
      for (let i = 1; i <= 8; i++) {
        const since = run.events.length;
        setGreeting(dir, `plain v${i}`);
        await run.waitForEvent('reload.ready', {}, 60_000, since);
        await load.until(`plain v${i}`);
      }
      await load.stop();
      // Plain Shutdown() closes idle keep-alive connections at once: a non-retrying client
      // loses what it was sending on them (docs/strategies.md); airlock must not fall over.
      console.log(`# ${handoff}: ${load.failures.length} failed of ${load.ok + load.failures.length} over 8 reloads`);
      assert.equal(run.child.exitCode, null);
      assert.deepEqual(ownTrouble(run), []);
      assert.equal((await run.interrupt()).code, 0);
    });
  }

  const RELOADS = 100;
  const proxyCases = [
    {
      name: 'Go (Shutdown)',
      // Built once: what is under test is how the app stops, not 100 Go builds (the 8-reload tests above build each time).
      setup: (dir: string) => {
        cpSync(PLAIN_GO, dir, { recursive: true });
        execFileSync('go', ['build', '-o', 'plain', '.'], { cwd: dir });
      },
      yaml: (port: number) => `services:\n  plain:\n    run: { cmd: ./plain }\n    listen: 127.0.0.1:${port}\n    handoff: proxy\n`,
    },
    {
      name: 'Node (server.close)',
      setup: () => undefined,
      yaml: (port: number) => `services:\n  plain:\n    run: { cmd: "node ${PLAIN_NODE}" }\n    listen: 127.0.0.1:${port}\n    handoff: proxy\n`,
    },
  ];
  for (const { name, setup, yaml } of proxyCases) {
    it(`${name}, handoff: proxy: 0 failed requests over ${RELOADS} reloads under keep-alive load`, async () => {
      const dir = tempProject();
      cleanup(() => removeProject(dir));
      setup(dir);
      const { run, load } = await start(yaml, dir);
      for (let i = 2; i <= RELOADS + 1; i++) {
        const since = run.events.length;
        assert.equal((await control(dir, 'POST', '/reload'))?.status, 202);
        await run.waitForEvent('reload.ready', { generation: i }, 60_000, since);
      }
      await load.stop();
      assert.deepEqual(load.failures, [], `${load.failures.length} failed of ${load.ok + load.failures.length}`);
      console.log(`# ${name}: ${load.ok} requests over ${RELOADS} reloads`);
      // The load ran all along (back-to-back reloads keep airlock's own loop busy: fewer answers per second than at rest).
      assert.ok(load.ok > RELOADS, `${load.ok} requests`);
      assert.deepEqual(ownTrouble(run), []);
      assert.equal((await run.interrupt()).code, 0);
    });
  }
});
