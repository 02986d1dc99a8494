import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, fmt, median, pollUntil, Proc, workDir } from './lib.ts';

/**
 * Saves faster than the build (docs/watching.md, watch.onBusy): examples/go-hello under
 * `airlock dev`, its usual build time B measured first (three spaced edits), then a save
 * every 0.5×B or 1.5×B for 30 s. Counted: reloads completed while the saves went on,
 * builds cancelled, and how long after the last save its text was served, in B and in R
 * (a lone save's reload: build, start, health, swap).
 */
export interface BusyRun {
  readonly mode: string;
  readonly every: number;
  readonly buildMs: number;
  /** A lone save → its reload ready (median of the warm-up edits). */
  readonly reloadMs: number;
  readonly saves: number;
  readonly completed: number;
  readonly cancelled: number;
  /** Last save → its text served, ms. */
  readonly lastServedMs: number;
}

const WINDOW_MS = 30_000;

function setGreeting(dir: string, text: string): void {
  const file = join(dir, 'main.go');
  writeFileSync(file, readFileSync(file, 'utf8').replace(/const greeting = ".*"/, `const greeting = "${text}"`));
}

async function oneRun(mode: string, every: number, port: number): Promise<BusyRun> {
  const dir = workDir(`busy-${mode}-${every}`, 'go-hello');
  writeFileSync(
    join(dir, 'airlock.yaml'),
    `services:\n  hello:\n    go: { main: . }\n    listen: 127.0.0.1:${port}\n    handoff: proxy\n    health: { http: { path: /healthz } }\n    watch: { onBusy: ${mode} }\n`,
  );
  const airlock = new Proc(process.execPath, [CLI, 'dev', '--log-format', 'json'], dir);
  try {
    await airlock.waitFor(/"type":"reload\.ready"/);
    const builds: number[] = [];
    const reloads: number[] = [];
    for (let i = 0; i < 3; i++) {
      await new Promise((r) => setTimeout(r, 500));
      const ready = airlock.waitFor(/"type":"reload\.ready"/);
      setGreeting(dir, `warm ${i}`);
      const event = JSON.parse(await ready) as { totalMs: number; phases: { build: number } };
      builds.push(event.phases.build);
      reloads.push(event.totalMs);
    }
    const buildMs = median(builds);
    const since = airlock.lines.length;
    const start = performance.now();
    let saves = 0;
    let lastAt = start;
    while (performance.now() - start < WINDOW_MS) {
      saves += 1;
      setGreeting(dir, `save ${saves}`);
      lastAt = performance.now();
      await new Promise((r) => setTimeout(r, every * buildMs));
    }
    const during = airlock.lines.slice(since);
    const served = await pollUntil(port, `save ${saves}`, 120_000);
    return {
      mode,
      every,
      buildMs,
      reloadMs: median(reloads),
      saves,
      completed: during.filter((line) => line.includes('"type":"reload.ready"')).length,
      cancelled: during.filter((line) => line.includes('"type":"build.cancelled"')).length,
      lastServedMs: served - lastAt,
    };
  } finally {
    await airlock.stop();
  }
}

export async function busyBuilds(port: number): Promise<BusyRun[]> {
  const runs: BusyRun[] = [];
  for (const every of [0.5, 1.5]) for (const mode of ['auto', 'restart']) runs.push(await oneRun(mode, every, port));
  return runs;
}

export function busyTable(runs: readonly BusyRun[]): string {
  return [
    `Saves faster than the build: examples/go-hello under \`airlock dev\`, a save every k × the usual build time B for ${WINDOW_MS / 1_000} s (\`npm run bench -- busy\`):`,
    '',
    '| watch.onBusy | save every | build B (ms) | lone reload R (ms) | saves | reloads completed during the saves | builds cancelled | last save → its text served |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
    ...runs.map(
      (r) =>
        `| ${r.mode} | ${r.every} × B | ${fmt(r.buildMs)} | ${fmt(r.reloadMs)} | ${r.saves} | ${r.completed} | ${r.cancelled} | ${fmt(r.lastServedMs)} ms = ${(r.lastServedMs / r.buildMs).toFixed(2)} × B = ${(r.lastServedMs / r.reloadMs).toFixed(2)} × R |`,
    ),
  ].join('\n');
}
