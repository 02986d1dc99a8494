import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';

/**
 * Dependencies point one way (docs/architecture.md): a stage imports only the stages
 * below it. Each folder of src/ may import the folders listed for it (and itself);
 * errors.ts, events.ts and clock.ts are the shared vocabulary every stage may use.
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
  observe: ['supervise', 'proxy', 'config'],
  control: [],
  daemon: ['config', 'watch', 'supervise', 'build', 'health', 'proxy', 'swap', 'rollout'],
  cli: ['config', 'watch', 'supervise', 'build', 'health', 'proxy', 'swap', 'rollout', 'observe', 'control', 'daemon'],
};
const SHARED = new Set(['errors.ts', 'events.ts', 'clock.ts']);

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'src');

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : name.endsWith('.ts') ? [path] : [];
  });
}

/** The top folder of src/ a path is in ('' for a file at the top). */
function stage(path: string): string {
  const rel = relative(SRC, path).split('/');
  return rel.length > 1 ? (rel[0] as string) : '';
}

describe('the import graph', () => {
  it('has no edge from a lower stage to a higher one', () => {
    const wrong: string[] = [];
    for (const file of files(SRC)) {
      const from = stage(file);
      for (const [, target] of readFileSync(file, 'utf8').matchAll(/^(?:import|export)\s[^;]*?from\s+'(\.[^']+)'/gms)) {
        const to = resolve(dirname(file), (target as string).replace(/\.js$/, '.ts'));
        const toStage = stage(to);
        if (toStage === from) continue;
        if (toStage === '') {
          // The shared vocabulary, or (from the top) the package's own index.
          if (SHARED.has(relative(SRC, to)) || from === '') continue;
          wrong.push(`${relative(SRC, file)} → ${relative(SRC, to)}`);
          continue;
        }
        if (from === '' || ALLOWED[from]?.includes(toStage)) continue;
        wrong.push(`${relative(SRC, file)} → ${relative(SRC, to)}`);
      }
    }
    assert.deepEqual(wrong, []);
  });
});
