import { changeToServing, changeToServingTable } from './change-to-serving.ts';
import { machine } from './lib.ts';
import { airlockWatcher, generateTree, nodemonWatcher, watcherTable } from './watcher-startup.ts';

/**
 * `npm run bench`: runs every benchmark and prints markdown for docs/BENCHMARKS.md.
 * `npm run bench -- change` or `-- watcher` runs one.
 */
const only = process.argv[2];
const out: string[] = [`## ${new Date().toISOString().slice(0, 10)} · ${machine()}`, ''];

if (!only || only === 'change') {
  const runs = [await changeToServing('0', 18_931), await changeToServing('50ms', 18_932)];
  out.push(changeToServingTable(runs), '');
}
if (!only || only === 'watcher') {
  const tree = generateTree();
  const figures = [await airlockWatcher(tree), await nodemonWatcher(tree)];
  out.push(watcherTable(figures), '');
}
console.log(out.join('\n'));
