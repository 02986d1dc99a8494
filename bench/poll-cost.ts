import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { look } from '../packages/airlock/src/watch/poll.ts';
import { fmt, median, workDir } from './lib.ts';

/**
 * What `watch.poll` costs: one polling pass (list the tree, lstat every entry) over
 * 10,000 files in 500 directories, wall time and this process's CPU time per pass, and
 * the share of one core that polling every 500 ms takes.
 */
export interface PollCost {
  readonly files: number;
  readonly wallMs: number[];
  readonly cpuMs: number[];
}

const DIRS = 500;
const FILES_PER_DIR = 20;
const PASSES = 7;

export async function pollCost(): Promise<PollCost> {
  const dir = workDir('poll-tree');
  for (let d = 0; d < DIRS; d++) {
    const sub = join(dir, `pkg${Math.floor(d / 50)}`, `dir${d}`);
    mkdirSync(sub, { recursive: true });
    for (let f = 0; f < FILES_PER_DIR; f++) writeFileSync(join(sub, `file${f}.go`), `package p${d}\n`);
  }
  const wallMs: number[] = [];
  const cpuMs: number[] = [];
  await look(dir); // a first pass warms the dentry cache, as every later pass finds it
  for (let i = 0; i < PASSES; i++) {
    const cpu = process.cpuUsage();
    const started = performance.now();
    const { entries } = await look(dir);
    wallMs.push(performance.now() - started);
    const used = process.cpuUsage(cpu);
    cpuMs.push((used.user + used.system) / 1_000);
    if (entries.size < DIRS * FILES_PER_DIR) throw new Error(`a pass saw ${entries.size} entries`);
  }
  return { files: DIRS * FILES_PER_DIR, wallMs, cpuMs };
}

export function pollCostTable(cost: PollCost): string {
  const cpu = median(cost.cpuMs);
  return [
    `Polling cost (\`watch.poll\`, \`npm run bench -- poll\`): one pass over ${cost.files.toLocaleString('en')} files in ${DIRS} directories, median of ${PASSES}:`,
    '',
    '| files | wall per pass | CPU per pass | one core\'s share at poll: 500ms | at poll: 2s |',
    '| --- | --- | --- | --- | --- |',
    `| ${cost.files.toLocaleString('en')} | ${fmt(median(cost.wallMs))} ms | ${fmt(cpu)} ms | ${((cpu / 500) * 100).toFixed(1)} % | ${((cpu / 2_000) * 100).toFixed(1)} % |`,
  ].join('\n');
}
