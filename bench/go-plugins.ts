import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, fmt, median, pollUntil, Proc, workDir } from './lib.ts';

/**
 * A Go `.so` plugin swap against a host rebuild, on examples/go-plugins under airlock dev,
 * in one run: edit the plugin and poll until its new answer is served (airlock builds it,
 * checks it against the running binary, the app opens it on the next request: same
 * process), then edit the host's main.go and poll until the new host serves (build,
 * start beside, health, swap, and every plugin built again for the new host).
 */
export interface GoPluginSwaps {
  readonly pluginMs: number[];
  readonly pluginBuildMs: number[];
  readonly hostMs: number[];
  readonly hostBuildMs: number[];
}

const EDITS = 8;

export async function goPluginSwaps(port: number): Promise<GoPluginSwaps> {
  const dir = workDir('go-plugins', 'go-plugins');
  const yaml = join(dir, 'airlock.yaml');
  writeFileSync(yaml, readFileSync(yaml, 'utf8').replace('127.0.0.1:8083', `127.0.0.1:${port}`));
  const plugin = join(dir, 'plugins', 'greet', 'main.go');
  const main = join(dir, 'main.go');
  const result: GoPluginSwaps = { pluginMs: [], pluginBuildMs: [], hostMs: [], hostBuildMs: [] };
  const airlock = new Proc(process.execPath, [CLI, 'dev', '--log-format', 'json'], dir);
  try {
    await airlock.waitFor(/"type":"plugin\.built"/);
    await pollUntil(port, 'plugin build', 60_000, '/greet?name=ada');
    for (let i = 0; i < EDITS; i++) {
      await new Promise((r) => setTimeout(r, 500));
      const built = airlock.waitFor(/"type":"plugin\.built"/);
      const t0 = performance.now();
      writeFileSync(plugin, readFileSync(plugin, 'utf8').replace(/greeting\.Prefix \+ ".*" \+ name/, `greeting.Prefix + " v${i} " + name`));
      const served = await pollUntil(port, `v${i} ada`, 60_000, '/greet?name=ada');
      result.pluginMs.push(served - t0);
      result.pluginBuildMs.push((JSON.parse(await built) as { ms: number }).ms);
    }
    for (let i = 0; i < EDITS; i++) {
      await new Promise((r) => setTimeout(r, 500));
      const ready = airlock.waitFor(/"type":"reload\.ready"/);
      const t0 = performance.now();
      writeFileSync(main, readFileSync(main, 'utf8').replace(/host prefix( #\d+)? %q/, `host prefix #${i} %q`));
      const served = await pollUntil(port, `host prefix #${i}`, 60_000, '/greet?name=ada');
      result.hostMs.push(served - t0);
      result.hostBuildMs.push((JSON.parse(await ready) as { phases: { build?: number } }).phases.build ?? 0);
    }
  } finally {
    await airlock.stop();
  }
  return result;
}

export function goPluginTable(r: GoPluginSwaps): string {
  return [
    `Go plugin swap on examples/go-plugins (bench/go-plugins.ts), ${EDITS} edits each, medians:`,
    '',
    '| edit | edit → new answer served | of which the build |',
    '| --- | --- | --- |',
    `| plugins/greet/main.go (a new .so, checked, opened in the same process) | ${fmt(median(r.pluginMs))} ms | ${fmt(median(r.pluginBuildMs))} ms |`,
    `| main.go (the host rebuilt, started beside, swapped) | ${fmt(median(r.hostMs))} ms | ${fmt(median(r.hostBuildMs))} ms |`,
  ].join('\n');
}
