import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

/** Walks up from dir to the directory holding go.mod. */
export function findGoModule(dir: string): string | undefined {
  let current = resolve(dir);
  for (;;) {
    if (existsSync(join(current, 'go.mod'))) return current;
    const parent = dirname(current);
    if (parent === current) return undefined;
    current = parent;
  }
}

/** The last element of the module path in dir/go.mod ("example.com/go-hello" → "go-hello"). */
export function goModuleName(dir: string): string | undefined {
  try {
    const match = /^module\s+"?([^\s"]+)"?/m.exec(readFileSync(join(dir, 'go.mod'), 'utf8'));
    return match?.[1]?.split('/').filter((part) => !/^v\d+$/.test(part)).pop();
  } catch {
    return undefined;
  }
}

/** True when dir holds a non-test .go file declaring package main. */
export function isMainPackage(dir: string): boolean {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return false;
  }
  return entries
    .filter((name) => name.endsWith('.go') && !name.endsWith('_test.go'))
    .some((name) => /^\s*package\s+main\b/m.test(readFileSync(join(dir, name), 'utf8')));
}

/**
 * The main packages of a module, as relative paths ("." and "./cmd/x"): the root, and
 * every directory under cmd/. This is what `airlock init` and zero-config dev offer.
 */
export function findMainPackages(moduleDir: string): string[] {
  const mains: string[] = [];
  if (isMainPackage(moduleDir)) mains.push('.');
  const cmd = join(moduleDir, 'cmd');
  if (existsSync(cmd)) {
    for (const entry of readdirSync(cmd, { withFileTypes: true })) {
      if (entry.isDirectory() && isMainPackage(join(cmd, entry.name))) mains.push(`./cmd/${entry.name}`);
    }
  }
  return mains;
}
