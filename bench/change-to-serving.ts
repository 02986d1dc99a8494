import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, fmt, median, pollUntil, Proc, workDir } from './lib.ts';

/**
 * Change-to-serving latency on examples/go-hello: write main.go, poll until the new text
 * is served. Beside it, in the same run, the bare cost of the same edit: `go build` plus
 * starting the binary until it serves. airlock's share is what is left after the build
 * and the app's own start-up (both measured by airlock per reload).
 */
export interface ChangeToServing {
  readonly debounce: string;
  readonly handoff: string;
  readonly totalMs: number[];
  readonly buildMs: number[];
  readonly readyMs: number[];
  readonly stopMs: number[];
  readonly shareMs: number[];
  /** Save → the compiler starts (build.started's time against the write's). */
  readonly toBuildMs: number[];
  readonly bareBuildMs: number[];
  readonly bareStartMs: number[];
}

const EDITS = 10;
const greeting = (dir: string) => join(dir, 'main.go');

function setGreeting(dir: string, text: string): void {
  const source = readFileSync(greeting(dir), 'utf8').replace(/const greeting = ".*"/, `const greeting = "${text}"`);
  writeFileSync(greeting(dir), source);
}

/**
 * The same edits without airlock, done the way a script would: build while the old
 * binary runs, then kill it and start the new one. Start = kill old + start new until
 * it serves. Polling starts once the new binary is started, as in the airlock run.
 */
async function bare(dir: string, port: number, result: { bareBuildMs: number[]; bareStartMs: number[] }): Promise<void> {
  let app: Proc | undefined;
  for (let i = 0; i < EDITS; i++) {
    setGreeting(dir, `bare ${i}`);
    const t0 = performance.now();
    const build = await new Promise<number | null>((resolve) =>
      spawn('go', ['build', '-o', `bare-bin-${i}`, '.'], { cwd: dir, stdio: 'inherit' }).once('exit', resolve),
    );
    if (build !== 0) throw new Error('go build failed');
    const t1 = performance.now();
    // Kill at once, as the reload tools do: the bare minimum a restart costs.
    await app?.stop('SIGKILL');
    app = new Proc(join(dir, `bare-bin-${i}`), [], dir, { PORT: String(port) });
    const t2 = await pollUntil(port, `bare ${i}`);
    result.bareBuildMs.push(t1 - t0);
    result.bareStartMs.push(t2 - t1);
    await new Promise((r) => setTimeout(r, 700));
  }
  await app?.stop('SIGTERM');
}

export async function changeToServing(debounce: string, port: number, handoff: string, bareToo: boolean): Promise<ChangeToServing> {
  const dir = workDir(`c2s-${handoff}-${debounce}`, 'go-hello');
  writeFileSync(
    join(dir, 'airlock.yaml'),
    `services:\n  hello:\n    go: { main: . }\n    listen: 127.0.0.1:${port}\n    handoff: ${handoff}\n    health: { http: { path: /healthz } }\n    watch: { debounce: ${debounce} }\n`,
  );
  const result: ChangeToServing = { debounce, handoff, totalMs: [], buildMs: [], readyMs: [], stopMs: [], shareMs: [], toBuildMs: [], bareBuildMs: [], bareStartMs: [] };
  const airlock = new Proc(process.execPath, [CLI, 'dev', '--log-format', 'json'], dir);
  try {
    await airlock.waitFor(/"type":"reload\.ready"/);
    for (let i = 0; i < EDITS; i++) {
      // Spaced edits, as a person saves: the watcher reports an isolated change at once.
      await new Promise((r) => setTimeout(r, 700));
      const readyLine = airlock.waitFor(/"type":"reload\.ready"/);
      const started = airlock.waitFor(/"type":"process\.started"/);
      const buildStarted = airlock.waitFor(/"type":"build\.started"/);
      const t0 = performance.now();
      const wall0 = Date.now();
      setGreeting(dir, `edit ${i}`);
      // The new text cannot be served before the new process exists; polling earlier
      // would only load the two cores while the compiler runs.
      await started;
      const t1 = await pollUntil(port, `edit ${i}`);
      const event = JSON.parse(await readyLine) as { phases: Record<string, number> };
      result.toBuildMs.push(Date.parse((JSON.parse(await buildStarted) as { time: string }).time) - wall0);
      const total = t1 - t0;
      const { build = 0, ready = 0, stop = 0 } = event.phases;
      result.totalMs.push(total);
      result.buildMs.push(build);
      result.readyMs.push(ready);
      result.stopMs.push(stop);
      // What airlock itself adds: detection, debounce, hashing, spawn, routing (not the
      // compiler, not the app's start-up and first health check, not the old app's shutdown).
      result.shareMs.push(total - build - ready - stop);
    }
  } finally {
    await airlock.stop();
  }
  if (bareToo) await bare(dir, port, result);
  return result;
}

export function changeToServingTable(runs: readonly ChangeToServing[]): string {
  const bare = (r: ChangeToServing) =>
    r.bareBuildMs.length === 0 ? '' : `${fmt(median(r.bareBuildMs))} + ${fmt(median(r.bareStartMs))} = ${fmt(median(r.bareBuildMs) + median(r.bareStartMs))}`;
  const rows = runs.map(
    (r) =>
      `| ${r.handoff} | ${r.debounce} | ${fmt(median(r.totalMs))} | ${fmt(median(r.buildMs))} | ${fmt(median(r.stopMs))} | ${fmt(median(r.readyMs))} | ${fmt(median(r.toBuildMs))} | **${fmt(median(r.shareMs))}** | ${bare(r)} |`,
  );
  return [
    `Change-to-serving on examples/go-hello, ${EDITS} edits each, medians in ms:`,
    '',
    '| handoff | debounce | edit → new text served | build | stop old | new app ready | save → compiler starts | airlock share (detect + debounce + spawn + swap) | bare: go build + (kill old, start new) |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows,
  ].join('\n');
}
