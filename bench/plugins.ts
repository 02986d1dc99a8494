import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PluginHost } from '../packages/runtime/src/plugins/index.ts';
import { fmt, median, rssMiB, workDir } from './lib.ts';

/**
 * The plugin host's costs (worker isolation): swap latency (edit → new version active,
 * measured by host.reload), call overhead against a plain in-thread call of the same
 * function, and memory per loaded plugin (RSS of this process with 1 and with 20 loaded).
 */
export interface PluginFigures {
  readonly swapMs: number[];
  readonly callUs: number;
  readonly inThreadUs: number;
  readonly mibPerPlugin: number;
}

const GREET = `export function hello(name) { return 'hello ' + name; }`;

function writePlugin(dir: string, name: string): void {
  mkdirSync(join(dir, name), { recursive: true });
  writeFileSync(join(dir, name, 'index.mjs'), GREET);
  writeFileSync(join(dir, name, 'plugin.json'), JSON.stringify({ name, version: '1.0.0', main: 'index.mjs', host: '^1' }));
}

export async function pluginCosts(): Promise<PluginFigures> {
  const dir = workDir('plugins');
  writePlugin(dir, 'greet');
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
  const one = rssMiB(process.pid);
  for (let p = 1; p < 20; p++) writePlugin(dir, `greet${p}`);
  for (let p = 1; p < 20; p++) await host.reload(`greet${p}`);
  const twenty = rssMiB(process.pid);
  await host.close();
  return { swapMs, callUs, inThreadUs, mibPerPlugin: (twenty - one) / 19 };
}

export function pluginTable(f: PluginFigures): string {
  return [
    'Plugin host, worker isolation (bench/plugins.ts): a one-function plugin, 30 swaps, 20,000 calls one after another:',
    '',
    '| figure | value |',
    '| --- | --- |',
    `| swap (new worker loads, init, health, old one stops and ends), median | ${fmt(median(f.swapMs))} ms |`,
    `| call through the worker (message there and back) | ${f.callUs.toFixed(1)} µs |`,
    `| the same function called in-thread (awaited) | ${f.inThreadUs.toFixed(2)} µs |`,
    `| memory per loaded plugin (RSS, 20 loaded against 1) | ${f.mibPerPlugin.toFixed(1)} MiB |`,
  ].join('\n');
}
