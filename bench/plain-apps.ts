import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { Load } from '../scripts/http-load.ts';
import { CLI, Proc, ROOT, workDir } from './lib.ts';

/**
 * What apps written without the airlock helpers lose per handoff: the plain Go app of
 * test/fixtures/plain-go (a plain LISTEN_FDS listener or $PORT, http.Server.Shutdown() on
 * SIGTERM) and a Node app that calls server.close(), under 8 keep-alive clients (Node
 * http.Agent: no retries), over RELOADS reloads each.
 */
const RELOADS = 20;
const PLAIN_GO = join(ROOT, 'test', 'fixtures', 'plain-go');
const PLAIN_NODE = join(ROOT, 'test', 'fixtures', 'plain-node.mjs');

export interface PlainRow {
  readonly app: string;
  readonly handoff: string;
  readonly ok: number;
  readonly failed: number;
  readonly kinds: string;
}

function reloadNow(dir: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: join(dir, '.airlock', 'control.sock'), method: 'POST', path: '/reload' }, (res) => {
      res.resume();
      res.on('end', () => resolve());
    });
    req.on('error', reject);
    req.end();
  });
}

async function measure(app: 'go' | 'node', handoff: string, port: number): Promise<PlainRow> {
  const dir = workDir(`plain-${app}-${handoff}`);
  if (app === 'go') cpSync(PLAIN_GO, dir, { recursive: true });
  const service = app === 'go' ? 'go: { main: . }' : `run: { cmd: "node ${PLAIN_NODE}" }`;
  writeFileSync(join(dir, 'airlock.yaml'), `services:\n  plain:\n    ${service}\n    listen: 127.0.0.1:${port}\n    handoff: ${handoff}\n`);
  const airlock = new Proc(process.execPath, [CLI, 'dev', '--log-format', 'json'], dir);
  try {
    await airlock.waitFor(/"type":"reload\.ready"/);
    const load = new Load(port);
    for (let i = 1; i <= RELOADS; i++) {
      const since = airlock.lines.length;
      if (app === 'go') {
        const main = join(dir, 'main.go');
        writeFileSync(main, readFileSync(main, 'utf8').replace(/const greeting = ".*"/, `const greeting = "plain v${i}"`));
        await load.until(`plain v${i}`, 60_000);
      } else {
        await reloadNow(dir);
        await airlock.waitFor(new RegExp(`"type":"reload\\.ready".*"generation":${i + 1}`), 60_000, since);
      }
    }
    await load.stop();
    const kinds = new Map<string, number>();
    for (const failure of load.failures) kinds.set(failure, (kinds.get(failure) ?? 0) + 1);
    return { app: app === 'go' ? 'Go, Shutdown()' : 'Node, server.close()', handoff, ok: load.ok, failed: load.failures.length, kinds: [...kinds].map(([k, n]) => `${n}× ${k}`).join('; ') };
  } finally {
    await airlock.stop();
  }
}

export async function plainApps(basePort: number): Promise<PlainRow[]> {
  const rows: PlainRow[] = [];
  for (const [i, handoff] of (['fd', 'tcp-proxy', 'proxy', 'restart'] as const).entries()) rows.push(await measure('go', handoff, basePort + i));
  for (const [i, handoff] of (['tcp-proxy', 'proxy'] as const).entries()) rows.push(await measure('node', handoff, basePort + 10 + i));
  return rows;
}

export function plainAppsTable(rows: readonly PlainRow[]): string {
  return [
    `Apps without the airlock helpers, ${RELOADS} reloads each under 8 keep-alive clients (Node http.Agent, no retries):`,
    '',
    '| app | handoff | requests ok | failed | failures |',
    '| --- | --- | --- | --- | --- |',
    ...rows.map((r) => `| ${r.app} | ${r.handoff} | ${r.ok} | **${r.failed}** | ${r.kinds || '–'} |`),
  ].join('\n');
}
