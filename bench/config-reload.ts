import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Load } from '../scripts/http-load.ts';
import { CLI, fmt, median, pollUntil, Proc, ROOT, workDir } from './lib.ts';

/**
 * Config edit → new value served, for the three ways a value reaches a Node app, in one
 * airlock run under keep-alive load: an env file (new generation of the same build), an
 * app config file delivered by signal (same process), and run.env in airlock.yaml (the
 * edit applied to that service only). Every edit is also counted against failed requests.
 */
export interface ConfigReload {
  readonly way: string;
  readonly totalMs: number[];
  /** The new generation's start-up until its probe passed (0 for signal delivery). */
  readonly readyMs: number[];
  failures: number;
  requests: number;
}

const EDITS = 10;
const ENV_APP = join(ROOT, 'test', 'fixtures', 'env-app.mjs');
const SIGNAL_APP = join(ROOT, 'test', 'fixtures', 'signal-config-app.mjs');

function airlockYaml(ports: readonly number[], greeting: string): string {
  return [
    'services:',
    '  envfile:',
    `    run: { cmd: node ${ENV_APP}, envFile: .env }`,
    `    listen: ${ports[0]}`,
    '    watch: { include: ["*.mjs"] }',
    '  signal:',
    `    run: { cmd: node ${SIGNAL_APP} }`,
    '    config: { files: [config.yaml], deliver: signal, signal: SIGUSR2 }',
    `    listen: ${ports[1]}`,
    '    watch: { include: ["*.mjs"] }',
    '  yaml:',
    `    run: { cmd: node ${ENV_APP}, env: { GREETING: ${greeting} } }`,
    `    listen: ${ports[2]}`,
    '    watch: { include: ["*.mjs"] }',
    '',
  ].join('\n');
}

export async function configReload(basePort: number): Promise<ConfigReload[]> {
  const dir = workDir('config-reload');
  const ports = [basePort, basePort + 1, basePort + 2];
  writeFileSync(join(dir, '.env'), 'GREETING=start\n');
  writeFileSync(join(dir, 'config.yaml'), 'greeting: start\n');
  writeFileSync(join(dir, 'airlock.yaml'), airlockYaml(ports, 'start'));
  const ways = [
    { way: 'env file (run.envFile)', port: ports[0] as number, service: 'envfile', edit: (v: string) => writeFileSync(join(dir, '.env'), `GREETING=${v}\n`) },
    { way: 'app config, deliver: signal', port: ports[1] as number, service: 'signal', edit: (v: string) => writeFileSync(join(dir, 'config.yaml'), `greeting: ${v}\n`) },
    { way: 'airlock.yaml run.env', port: ports[2] as number, service: 'yaml', edit: (v: string) => writeFileSync(join(dir, 'airlock.yaml'), airlockYaml(ports, v)) },
  ];
  const results: ConfigReload[] = [];
  const airlock = new Proc(process.execPath, [CLI, 'dev', '--log-format', 'json'], dir);
  try {
    for (const service of ['envfile', 'signal', 'yaml']) await airlock.waitFor(new RegExp(`"type":"reload\\.ready","service":"${service}"`), 60_000, 0);
    for (const { way, port, service, edit } of ways) {
      const result: ConfigReload = { way, totalMs: [], readyMs: [], failures: 0, requests: 0 };
      const load = new Load(port, 2);
      for (let i = 0; i < EDITS; i++) {
        // Spaced edits, as a person saves.
        await new Promise((r) => setTimeout(r, 700));
        const since = airlock.lines.length;
        const t0 = performance.now();
        edit(`edit-${i}`);
        const t1 = await pollUntil(port, `edit-${i}`);
        result.totalMs.push(t1 - t0);
        const ready = airlock.lines.slice(since).find((line) => line.includes('"type":"reload.ready"') && line.includes(`"service":"${service}"`));
        result.readyMs.push(ready ? ((JSON.parse(ready) as { phases: { ready?: number } }).phases.ready ?? 0) : 0);
      }
      await load.stop();
      result.failures = load.failures.length;
      result.requests = [...load.seen.values()].reduce((a, b) => a + b, 0);
      results.push(result);
    }
  } finally {
    await airlock.stop();
  }
  return results;
}

export function configReloadTable(rows: readonly ConfigReload[]): string {
  return [
    `Config edit → new value served (Node app, proxy handoff, keep-alive load of 2 connections), ${EDITS} edits each, medians in ms:`,
    '',
    '| how the value reaches the app | edit → served | new generation start-up until ready | the rest (settle, read, validate, swap) | requests | failed |',
    '| --- | --- | --- | --- | --- | --- |',
    ...rows.map(
      (r) =>
        `| ${r.way} | ${fmt(median(r.totalMs))} | ${fmt(median(r.readyMs))} | ${fmt(median(r.totalMs.map((t, i) => t - (r.readyMs[i] ?? 0))))} | ${r.requests} | ${r.failures} |`,
    ),
  ].join('\n');
}
