import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Load } from '../scripts/http-load.ts';
import { CLI, fmt, goHello, pollUntil, Proc, workDir } from './lib.ts';

/**
 * Dropped requests during 20 reloads under keep-alive load for each handoff, beside
 * reflex (kill-and-restart, as air, nodemon and entr do) on the same app in the same run;
 * then throughput and latency through each handoff against the app served directly (wrk).
 */
const RELOADS = 20;

function setGreeting(dir: string, text: string): void {
  const main = join(dir, 'main.go');
  writeFileSync(main, readFileSync(main, 'utf8').replace(/const greeting = ".*"/, `const greeting = "${text}"`));
}

export interface Dropped {
  readonly tool: string;
  readonly ok: number;
  readonly failed: number;
  readonly versions: number;
  readonly examples: string[];
}

async function reloadsUnderLoad(tool: string, dir: string, port: number): Promise<Dropped> {
  const load = new Load(port);
  let versions = 0;
  for (let i = 1; i <= RELOADS; i++) {
    setGreeting(dir, `version ${i}`);
    try {
      await load.until(`version ${i}`, 30_000);
      versions++;
    } catch {
      // counted as a version never served
    }
  }
  await load.stop();
  const kinds = new Map<string, number>();
  for (const failure of load.failures) kinds.set(failure, (kinds.get(failure) ?? 0) + 1);
  return { tool, ok: load.ok, failed: load.failures.length, versions, examples: [...kinds].map(([k, n]) => `${n}× ${k}`).slice(0, 3) };
}

export async function airlockDropped(handoff: string, port: number): Promise<Dropped> {
  const dir = workDir(`drop-${handoff}`, 'go-hello');
  writeFileSync(join(dir, 'airlock.yaml'), `services:\n  hello:\n    go: { main: . }\n    listen: 127.0.0.1:${port}\n    handoff: ${handoff}\n    health: { http: { path: /healthz } }\n`);
  const airlock = new Proc(process.execPath, [CLI, 'dev', '--log-format', 'json'], dir);
  try {
    await airlock.waitFor(/"type":"reload\.ready"/);
    return await reloadsUnderLoad(`airlock, handoff ${handoff}`, dir, port);
  } finally {
    await airlock.stop();
  }
}

export async function reflexDropped(port: number): Promise<Dropped> {
  const dir = workDir('drop-reflex', 'go-hello');
  // reflex's service mode: on change, kill the running command and start it again.
  const reflex = new Proc('reflex', ['-r', '\\.go$', '-s', '--', 'sh', '-c', 'go build -o app . && exec ./app'], dir, { PORT: String(port) });
  try {
    await pollUntil(port, 'hello from go-hello', 120_000);
    return await reloadsUnderLoad('reflex -s (kill, build, start)', dir, port);
  } finally {
    await reflex.stop('SIGTERM');
  }
}

export function droppedTable(rows: readonly Dropped[]): string {
  return [
    `Requests failed during ${RELOADS} reloads of examples/go-hello under 8 keep-alive clients (Node http.Agent, no retries):`,
    '',
    '| tool | requests ok | failed | versions served | failures |',
    '| --- | --- | --- | --- | --- |',
    ...rows.map((r) => `| ${r.tool} | ${r.ok} | **${r.failed}** | ${r.versions}/${RELOADS} | ${r.examples.join('; ') || '–'} |`),
  ].join('\n');
}

export interface Throughput {
  readonly path: string;
  readonly rps: number;
  readonly p50: number;
  readonly p99: number;
  readonly c1p50: number;
  readonly c1p99: number;
}

function toMs(text: string): number {
  const match = /([\d.]+)(us|ms|s)/.exec(text);
  if (!match) return NaN;
  const value = Number(match[1]);
  return match[2] === 'us' ? value / 1000 : match[2] === 's' ? value * 1000 : value;
}

function wrk(port: number, connections: number, seconds: number): { rps: number; p50: number; p99: number } {
  const out = execFileSync('wrk', ['-t', connections > 1 ? '2' : '1', '-c', String(connections), '-d', `${seconds}s`, '--latency', `http://127.0.0.1:${port}/`], { encoding: 'utf8' });
  return {
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]),
    p50: toMs(/\s50%\s+(\S+)/.exec(out)?.[1] ?? ''),
    p99: toMs(/\s99%\s+(\S+)/.exec(out)?.[1] ?? ''),
  };
}

function measure(path: string, port: number): Throughput {
  wrk(port, 32, 1); // warm-up: connection pools, JIT
  const saturated = wrk(port, 32, 5);
  const single = wrk(port, 1, 5);
  return { path, ...saturated, c1p50: single.p50, c1p99: single.p99 };
}

export async function throughput(basePort: number): Promise<Throughput[]> {
  const { dir, child: direct } = await goHello('throughput', basePort);
  const results: Throughput[] = [];
  try {
    results.push(measure('direct (no airlock)', basePort));
  } finally {
    direct.kill('SIGKILL');
  }
  let port = basePort + 1;
  for (const handoff of ['fd', 'proxy', 'tcp-proxy']) {
    writeFileSync(join(dir, 'airlock.yaml'), `services:\n  hello:\n    run: { cmd: ${join(dir, 'app')} }\n    listen: 127.0.0.1:${port}\n    handoff: ${handoff}\n    health: { http: { path: /healthz } }\n`);
    const airlock = new Proc(process.execPath, [CLI, 'run', '--log-format', 'json'], dir);
    try {
      await airlock.waitFor(/"type":"reload\.ready"/);
      results.push(measure(`airlock ${handoff}`, port));
    } finally {
      await airlock.stop();
    }
    port++;
  }
  return results;
}

export function throughputTable(rows: readonly Throughput[]): string {
  const direct = rows[0] as Throughput;
  return [
    'Throughput and latency, GET / on examples/go-hello; wrk -t2 -c32 for 5 s (saturated), and wrk -t1 -c1 (one request at a time) for the unloaded latency:',
    '',
    '| path | req/s (c32) | × direct | p50 / p99 ms (c32) | p50 / p99 ms (c1) | added p50 (c1) |',
    '| --- | --- | --- | --- | --- | --- |',
    ...rows.map(
      (r) =>
        `| ${r.path} | ${r.rps.toFixed(0)} | ${(r.rps / direct.rps).toFixed(2)} | ${fmt(r.p50)} / ${fmt(r.p99)} | ${r.c1p50.toFixed(3)} / ${r.c1p99.toFixed(3)} | ${(r.c1p50 - direct.c1p50).toFixed(3)} |`,
    ),
  ].join('\n');
}
