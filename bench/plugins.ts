import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PluginHost } from '../packages/runtime/src/plugins/index.ts';
import { fmt, median, rssMiB, workDir } from './lib.ts';

/**
 * The plugin host's costs per isolation (worker, process, inline): swap latency (edit → new version active,
 * measured by host.reload), call overhead against a plain in-thread call of the same
 * function, and memory per loaded plugin (RSS of this process with 1 and with 20 loaded).
 */
export interface PluginFigures {
  readonly isolation: Isolation | 'process, sandboxed';
  readonly swapMs: number[];
  readonly callUs: number;
  readonly inThreadUs: number;
  readonly mibPerPlugin: number;
}

type Isolation = 'worker' | 'process' | 'inline';

const GREET = `export function hello(name) { return 'hello ' + name; }`;
// inline loads CommonJS (Node cannot release an ES module).
const GREET_CJS = `exports.hello = (name) => 'hello ' + name;`;

function writePlugin(dir: string, name: string, isolation: Isolation, sandboxed: boolean): void {
  mkdirSync(join(dir, name), { recursive: true });
  const main = isolation === 'inline' ? 'index.cjs' : 'index.mjs';
  writeFileSync(join(dir, name, main), isolation === 'inline' ? GREET_CJS : GREET);
  // An empty permissions block: the sandbox (bubblewrap and Node's permission model) with nothing granted.
  writeFileSync(join(dir, name, 'plugin.json'), JSON.stringify({ name, version: '1.0.0', main, host: '^1', isolation, ...(sandboxed ? { permissions: {} } : {}) }));
}

async function costs(isolation: Isolation, sandboxed = false): Promise<PluginFigures> {
  const dir = workDir(`plugins-${isolation}${sandboxed ? '-sandboxed' : ''}`);
  writePlugin(dir, 'greet', isolation, sandboxed);
  const host = new PluginHost({ dir, watch: false });
  await host.start();
  const swapMs: number[] = [];
  for (let i = 0; i < 30; i++) {
    const t0 = performance.now();
    await host.reload('greet');
    swapMs.push(performance.now() - t0);
  }
  const calls = 20_000;
  let t0 = performance.now();
  for (let i = 0; i < calls; i++) await host.call('greet', 'hello', 'ada');
  const callUs = ((performance.now() - t0) * 1000) / calls;
  const local = (name: string) => `hello ${name}`;
  t0 = performance.now();
  for (let i = 0; i < calls; i++) await local('ada');
  const inThreadUs = ((performance.now() - t0) * 1000) / calls;
  const one = isolation !== 'process' ? rssMiB(process.pid) : rssMiB(process.pid) + childrenRss();
  for (let p = 1; p < 20; p++) writePlugin(dir, `greet${p}`, isolation, sandboxed);
  for (let p = 1; p < 20; p++) await host.reload(`greet${p}`);
  // A process plugin's memory is its own process's: count the host and its children.
  const twenty = isolation !== 'process' ? rssMiB(process.pid) : rssMiB(process.pid) + childrenRss();
  await host.close();
  return { isolation: sandboxed ? 'process, sandboxed' : isolation, swapMs, callUs, inThreadUs, mibPerPlugin: (twenty - one) / 19 };
}

/** RSS (MiB) of this process's descendants (a sandboxed plugin is bwrap → bwrap → node). */
function childrenRss(pid = process.pid): number {
  const ids = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
  return ids.reduce((sum, child) => sum + rssMiB(Number(child)) + childrenRss(Number(child)), 0);
}

export async function pluginCosts(): Promise<PluginFigures[]> {
  return [await costs('worker'), await costs('process'), await costs('process', true), await costs('inline')];
}

export function pluginTable(rows: readonly PluginFigures[]): string {
  return [
    'Plugin host (bench/plugins.ts): a one-function plugin, 30 swaps, 20,000 calls one after another, per isolation:',
    '',
    '| isolation | swap (load, init, health; the old one stopped and ended), median | call there and back | the same function in-thread | memory per loaded plugin (20 against 1) |',
    '| --- | --- | --- | --- | --- |',
    ...rows.map((f) => `| ${f.isolation} | ${fmt(median(f.swapMs))} ms | ${f.callUs.toFixed(1)} µs | ${f.inThreadUs.toFixed(2)} µs | ${f.mibPerPlugin < 0.05 ? '< 0.1' : f.mibPerPlugin.toFixed(1)} MiB |`),
  ].join('\n');
}
