import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KeyedLoad } from '../scripts/keyed-load.ts';
import { CLI, median, Proc, workDir } from './lib.ts';

/**
 * What a canary costs the proxy: throughput and p50 through airlock's proxy with no
 * rollout (instant mode) against a canary held at 50 % (a murmur hash of the user's key
 * per request), alternating A B A B in one airlock so the machine's noise hits both.
 * Load: 16 keep-alive clients (Node http.Agent), 4,000 users by x-user-id, 5 s a phase.
 */
const PHASE_MS = 5_000;

export interface RolloutCost {
  readonly mode: string;
  readonly rps: number;
  readonly p50: number;
  readonly p99: number;
}

async function phase(port: number, mode: string): Promise<RolloutCost> {
  const load = new KeyedLoad(port, { users: 4_000, clients: 16 });
  await new Promise((r) => setTimeout(r, PHASE_MS));
  await load.stop();
  const ms = load.answers.map((a) => a.ms).sort((a, b) => a - b);
  if (load.failures.length > 0) throw new Error(`${mode}: ${load.failures.length} failed requests, e.g. ${load.failures[0]}`);
  return { mode, rps: load.answers.length / (PHASE_MS / 1000), p50: median(ms), p99: ms[Math.floor(ms.length * 0.99)] ?? NaN };
}

export async function rolloutCost(port: number): Promise<RolloutCost[]> {
  const dir = workDir('rollout', 'go-hello');
  writeFileSync(
    join(dir, 'airlock.yaml'),
    `services:\n  hello:\n    go: { main: . }\n    listen: 127.0.0.1:${port}\n    health: { http: { path: /healthz } }\n    rollout: { strategy: canary, steps: [50, 100], interval: 596h, key: header:x-user-id, group: bench }\n`,
  );
  const airlock = new Proc(process.execPath, [CLI, 'dev', '--log-format', 'json'], dir);
  const cli = (...args: string[]) => execFileSync(process.execPath, [CLI, ...args], { cwd: dir, encoding: 'utf8' });
  const rows: RolloutCost[] = [];
  try {
    await airlock.waitFor(/"type":"reload\.ready"/);
    for (let round = 0; round < 2; round++) {
      rows.push(await phase(port, 'instant (no rollout)'));
      const since = airlock.lines.length;
      cli('reload', 'hello');
      await airlock.waitFor(/"type":"rollout\.step"/, 120_000, since);
      rows.push(await phase(port, 'canary at 50 %'));
      cli('rollout', 'promote', 'hello', '--full');
      await airlock.waitFor(/"type":"generation\.drained"/, 60_000, since);
    }
  } finally {
    await airlock.stop();
  }
  return rows;
}

export function rolloutTable(rows: readonly RolloutCost[]): string {
  const of = (mode: string) => rows.filter((r) => r.mode === mode);
  const instant = of('instant (no rollout)');
  const canary = of('canary at 50 %');
  const rps = (list: readonly RolloutCost[]) => median(list.map((r) => r.rps));
  const p50 = (list: readonly RolloutCost[]) => median(list.map((r) => r.p50));
  return [
    `Proxy cost of a canary: examples/go-hello through handoff proxy, 16 keep-alive clients (Node http.Agent), 4,000 users by x-user-id, ${PHASE_MS / 1000} s per phase, phases alternating in one airlock:`,
    '',
    '| phase | req/s | p50 ms | p99 ms |',
    '| --- | --- | --- | --- |',
    ...rows.map((r) => `| ${r.mode} | ${r.rps.toFixed(0)} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} |`),
    '',
    `Canary throughput ${((rps(canary) / rps(instant)) * 100).toFixed(1)} % of instant mode (medians); added p50 ${(p50(canary) - p50(instant)).toFixed(3)} ms.`,
  ].join('\n');
}
