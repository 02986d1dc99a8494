import { cpSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * Copies examples/<name> to dir (without its .airlock state) for tests and benchmarks,
 * pointing a go.mod `replace ... => ../../go/airlock` at this repository's Go helper.
 */
export function copyExample(name: string, dir: string): void {
  cpSync(join(ROOT, 'examples', name), dir, { recursive: true, filter: (src) => !src.includes('.airlock') && !src.includes('node_modules') });
  if (existsSync(join(dir, 'package.json'))) {
    // What `npm install` would link for "@airlock/runtime": "file:../../packages/runtime".
    mkdirSync(join(dir, 'node_modules', '@airlock'), { recursive: true });
    symlinkSync(join(ROOT, 'packages', 'runtime'), join(dir, 'node_modules', '@airlock', 'runtime'));
  }
  const goMod = join(dir, 'go.mod');
  if (!existsSync(goMod)) return;
  writeFileSync(goMod, readFileSync(goMod, 'utf8').replace(/=> \.\.\/\.\.\/go\/airlock/, `=> ${join(ROOT, 'go', 'airlock')}`));
}
