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

/** Directories walked looking for main packages: a bigger tree is cut short (its deeper mains are not offered). */
const MAX_WALKED = 10_000;

/**
 * The main packages of a module, as relative paths ("." and "./cmd/x"), found as `go
 * list ./...` finds packages: every directory of the module, except testdata, vendor,
 * directories whose name starts with "." or "_", node_modules, and nested modules (a
 * directory with its own go.mod). This is what `airlock init` and zero-config dev offer.
 */
export function findMainPackages(moduleDir: string): string[] {
  const mains: string[] = [];
  const stack = ['.'];
  for (let walked = 0; stack.length > 0 && walked < MAX_WALKED; walked++) {
    const rel = stack.shift() as string;
    const dir = join(moduleDir, rel);
    if (isMainPackage(dir)) mains.push(rel);
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      continue;
    }
    for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
      const name = entry.name;
      if (!entry.isDirectory() || /^[._]/.test(name) || name === 'testdata' || name === 'vendor' || name === 'node_modules') continue;
      if (existsSync(join(dir, name, 'go.mod'))) continue;
      stack.push(rel === '.' ? `./${name}` : `${rel}/${name}`);
    }
  }
  return mains;
}
