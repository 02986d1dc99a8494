import { changeToServing, changeToServingTable } from './change-to-serving.ts';
import { configReload, configReloadTable } from './config-reload.ts';
import { airlockDropped, droppedTable, reflexDropped, throughput, throughputTable } from './handoffs.ts';
import { machine } from './lib.ts';
import { plainApps, plainAppsTable } from './plain-apps.ts';
import { fleetBench, fleetTable } from './fleet.ts';
import { idleConnections, idleTable } from './idle-connections.ts';
import { goPluginSwaps, goPluginTable } from './go-plugins.ts';
import { pluginCosts, pluginTable } from './plugins.ts';
import { releaseTable, releaseTimes } from './releases.ts';
import { rolloutCost, rolloutTable } from './rollout.ts';
import { rolloutSoak, soakTable } from './rollout-soak.ts';
import { burstBuilds, generateModule, graphTiming, monorepoTable } from './monorepo.ts';
import { burstShapes, burstTable } from './bursts.ts';
import { busyBuilds, busyTable } from './busy.ts';
import { saveStyles, saveStyleTable } from './save-styles.ts';
import { pollCost, pollCostTable } from './poll-cost.ts';
import { proxyBench, proxyTable } from './proxy.ts';
import { airlockWatcher, generateTree, nodemonWatcher, watcherTable } from './watcher-startup.ts';

/**
 * `npm run bench`: runs every benchmark and prints markdown for docs/BENCHMARKS.md.
 * `npm run bench -- change|dropped|plain|throughput|rollout|plugins|monorepo|bursts|watcher|config|releases|soak|busy|saves|poll|fleet|idle|proxy` runs one (proxy only when asked).
 */
const only = process.argv[2];
const out: string[] = [`## ${new Date().toISOString().slice(0, 10)} · ${machine()}`, ''];

if (!only || only === 'change') {
  const runs = [await changeToServing('0', 18_931, 'proxy', true), await changeToServing('50ms', 18_932, 'proxy', false)];
  for (const [i, handoff] of (['fd', 'tcp-proxy', 'restart'] as const).entries()) {
    runs.push(await changeToServing('50ms', 18_933 + 2 * i, handoff, false), await changeToServing('0', 18_934 + 2 * i, handoff, false));
  }
  out.push(changeToServingTable(runs), '');
}
if (!only || only === 'dropped') {
  const rows = [];
  for (const [i, handoff] of (['fd', 'proxy', 'tcp-proxy', 'restart'] as const).entries()) rows.push(await airlockDropped(handoff, 18_940 + i));
  rows.push(await reflexDropped(18_945));
  out.push(droppedTable(rows), '');
}
if (!only || only === 'plain') {
  out.push(plainAppsTable(await plainApps(18_970)), '');
}
if (!only || only === 'throughput') {
  out.push(throughputTable(await throughput(18_950)), '');
}
if (!only || only === 'rollout') {
  out.push(rolloutTable(await rolloutCost(18_980)), '');
}
if (!only || only === 'monorepo') {
  const module = generateModule();
  const graph = await graphTiming(module.dir, module.mains);
  out.push(monorepoTable(graph, await burstBuilds(module.dir, module.usedBy)), '');
}
if (!only || only === 'plugins') {
  out.push(pluginTable(await pluginCosts()), '');
  out.push(goPluginTable(await goPluginSwaps(18_970)), '');
}
if (!only || only === 'bursts') {
  const module = generateModule();
  out.push(burstTable(await burstShapes(module.dir, module.usedBy, 20)), '');
}
if (!only || only === 'watcher') {
  const tree = generateTree();
  const figures = [await airlockWatcher(tree), await nodemonWatcher(tree)];
  out.push(watcherTable(figures), '');
}
if (!only || only === 'config') {
  out.push(configReloadTable(await configReload(18_960)), '');
}
if (!only || only === 'soak') {
  out.push(soakTable(await rolloutSoak(18_995)), '');
}
if (!only || only === 'releases') {
  out.push(releaseTable(await releaseTimes(18_990)), '');
}
if (!only || only === 'saves') {
  out.push(saveStyleTable(await saveStyles(18_997)), '');
}
if (!only || only === 'poll') {
  out.push(pollCostTable(await pollCost()), '');
}
if (!only || only === 'busy') {
  out.push(busyTable(await busyBuilds(18_998)), '');
}
if (!only || only === 'fleet') {
  out.push(fleetTable(await fleetBench(19_100)), '');
}
if (only === 'idle') {
  // With the proxy bench: it needs haproxy (installed by `npm run bench -- proxy`).
  out.push(idleTable(await idleConnections(18_920)), '');
}
if (only === 'proxy') {
  // Not in the default run: it installs nginx-light, haproxy and wrk when missing.
  out.push(proxyTable(await proxyBench(18_900)), '');
}
console.log(out.join('\n'));
