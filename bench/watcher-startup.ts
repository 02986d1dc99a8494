import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, fmt, Proc, ROOT, rssMiB, workDir } from './lib.ts';

/**
 * Watcher start-up time and memory on a generated tree of 100,000 files in 5,000
 * directories: airlock (@parcel/watcher) beside nodemon (chokidar), same tree, same run.
 */
const DIRS = 5_000;
const FILES_PER_DIR = 20;

export function generateTree(): string {
  const dir = workDir('tree');
  for (let d = 0; d < DIRS; d++) {
    const sub = join(dir, `pkg${Math.floor(d / 100)}`, `dir${d}`);
    mkdirSync(sub, { recursive: true });
    for (let f = 0; f < FILES_PER_DIR; f++) writeFileSync(join(sub, `file${f}.go`), `package p${d}\n`);
  }
  return dir;
}

export interface WatcherFigures {
  readonly tool: string;
  readonly readyMs: number;
  readonly rssMiB: number;
  /** A save right after ready → change.detected, while the start-up hashing still runs (airlock only). */
  readonly firstChangeMs?: number;
}

async function settle(ms: number): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

export async function airlockWatcher(tree: string): Promise<WatcherFigures> {
  const t0 = performance.now();
  const airlock = new Proc(process.execPath, [CLI, 'dev', '--run', 'sleep 1000', '--watch', '**/*.go', '--log-format', 'json'], tree);
  try {
    await airlock.waitFor(/"type":"watch\.started"/);
    const readyMs = performance.now() - t0;
    // The start-up hashing (up to 20,000 inputs) must not hold the first change back.
    const detected = airlock.waitFor(/"type":"change\.detected"/);
    const t1 = performance.now();
    writeFileSync(join(tree, 'pkg0', 'dir0', 'file0.go'), `package p0\n// saved at ${Date.now()}\n`);
    await detected;
    const firstChangeMs = performance.now() - t1;
    // Let the start-up content hashing finish before reading memory.
    await settle(3_000);
    return { tool: 'airlock (@parcel/watcher)', readyMs, rssMiB: rssMiB(airlock.child.pid as number), firstChangeMs };
  } finally {
    await airlock.stop();
  }
}

export async function nodemonWatcher(tree: string): Promise<WatcherFigures> {
  const t0 = performance.now();
  const nodemon = new Proc(process.execPath, [join(ROOT, 'node_modules', 'nodemon', 'bin', 'nodemon.js'), '-V', '--watch', '.', '-e', 'go', '--exec', 'sleep 1000'], tree);
  try {
    // With -V nodemon prints "watching N files" once chokidar has finished its initial scan.
    await nodemon.waitFor(/watching \d+ files/, 300_000);
    const readyMs = performance.now() - t0;
    await settle(3_000);
    return { tool: 'nodemon 3 (chokidar)', readyMs, rssMiB: rssMiB(nodemon.child.pid as number) };
  } finally {
    await nodemon.stop();
  }
}

export function watcherTable(figures: readonly WatcherFigures[]): string {
  return [
    `Watcher start-up on ${DIRS * FILES_PER_DIR} files in ${DIRS} directories (process start → watching; a save right after → change detected; RSS 3 s later):`,
    '',
    '| tool | ready (ms) | first save → detected (ms) | RSS (MiB) |',
    '| --- | --- | --- | --- |',
    ...figures.map((f) => `| ${f.tool} | ${fmt(f.readyMs)} | ${f.firstChangeMs === undefined ? '–' : fmt(f.firstChangeMs)} | ${f.rssMiB.toFixed(0)} |`),
  ].join('\n');
}
