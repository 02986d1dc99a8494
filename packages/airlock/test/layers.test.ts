import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';

/**
 * Dependencies point one way (docs/architecture.md): a stage imports only the stages
 * below it. Each folder of src/ may import the folders listed for it (and itself).
 * The files at the top of src/ are nodes too: errors.ts, events.ts, clock.ts and
 * atomic-file.ts are the shared vocabulary every stage may use, and each of them may import only what is listed
 * for it; index.ts (the package's entry) may import anything.
 */
const ALLOWED: Readonly<Record<string, readonly string[]>> = {
  config: [],
  watch: ['config'],
  supervise: [],
  build: ['supervise', 'config'],
  health: ['supervise', 'config'],
  proxy: ['supervise'],
  swap: ['supervise', 'health', 'proxy', 'config'],
  rollout: ['proxy', 'swap', 'config'],
  observe: ['supervise', 'health', 'proxy', 'rollout', 'config'],
  control: [],
  // Change detection: file events → a settled change set → the services it reaches.
  detect: ['config', 'watch', 'build'],
  // airlock's side of plugins: Go plugin builds, notices for the app's plugin host.
  'plugin-support': ['config', 'watch', 'build', 'supervise'],
  // Live configuration: airlock.yaml edits and app config, validated before they apply.
  'live-config': ['config', 'detect'],
  // One service's pipeline and its artifact sources.
  pipeline: ['config', 'watch', 'detect', 'plugin-support', 'supervise', 'build', 'health', 'proxy', 'swap', 'rollout'],
  // A debugger per generation (a spawn hook) behind one stable address.
  debug: ['config', 'supervise', 'proxy', 'swap'],
  // The browser's side: live reload (a proxy interceptor and routes of airlock's own).
  browser: ['proxy', 'control'],
  // The composition root: wires, holds no stage logic.
  // Signed releases: the TUF repository, the agent's artifact source.
  release: ['config', 'pipeline'],
  // Fleets on NATS JetStream: agents' heartbeats, the fleet rollout controller.
  fleet: ['config', 'proxy', 'rollout', 'release'],
  daemon: ['config', 'supervise', 'build', 'detect', 'live-config', 'pipeline', 'release', 'observe', 'control', 'debug', 'browser', 'fleet'],
  cli: ['config', 'watch', 'supervise', 'build', 'health', 'proxy', 'swap', 'rollout', 'observe', 'control', 'detect', 'live-config', 'pipeline', 'release', 'daemon', 'debug', 'browser', 'fleet'],
  'errors.ts': [],
  'clock.ts': [],
  'atomic-file.ts': [],
  // Events name how a process ended (supervise/process-end.ts), the bottom stage.
  'events.ts': ['supervise'],
};
const SHARED = new Set(['errors.ts', 'events.ts', 'clock.ts', 'atomic-file.ts']);
const ENTRY = 'index.ts';

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'src');

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : name.endsWith('.ts') ? [path] : [];
  });
}

/** The node of the graph a path is: its top folder of src/, or the file's name at the top. */
function stage(path: string): string {
  const rel = relative(SRC, path).split('/');
  return rel[0] as string;
}

/** Every import edge between two nodes, as [from, to, "file → target"]. */
function edges(): [string, string, string][] {
  const found: [string, string, string][] = [];
  for (const file of files(SRC)) {
    const from = stage(file);
    for (const [, target] of readFileSync(file, 'utf8').matchAll(/^(?:import|export)\s[^;]*?from\s+'(\.[^']+)'/gms)) {
      const to = resolve(dirname(file), (target as string).replace(/\.js$/, '.ts'));
      const toStage = stage(to);
      if (toStage !== from) found.push([from, toStage, `${relative(SRC, file)} → ${relative(SRC, to)}`]);
    }
  }
  return found;
}

describe('the import graph', () => {
  it('has no edge from a lower stage to a higher one', () => {
    const wrong = edges()
      .filter(([from, to]) => from !== ENTRY && !SHARED.has(to) && !ALLOWED[from]?.includes(to))
      .map(([, , edge]) => edge);
    assert.deepEqual(wrong, []);
  });

  it('knows every folder and top-level file of src/', () => {
    const nodes = new Set(files(SRC).map(stage));
    const unknown = [...nodes].filter((node) => node !== ENTRY && !(node in ALLOWED));
    assert.deepEqual(unknown, []);
  });

  it('has no cycle, the shared vocabulary included', () => {
    const next = new Map<string, Set<string>>();
    for (const [from, to] of edges()) next.set(from, (next.get(from) ?? new Set()).add(to));
    const cycles: string[] = [];
    const visit = (node: string, path: string[]) => {
      if (path.includes(node)) return void cycles.push([...path.slice(path.indexOf(node)), node].join(' → '));
      for (const to of next.get(node) ?? []) visit(to, [...path, node]);
    };
    for (const node of next.keys()) visit(node, []);
    assert.deepEqual(cycles, []);
  });
});
