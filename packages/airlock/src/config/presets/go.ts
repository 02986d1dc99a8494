import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { promisify } from 'node:util';
import { AirlockError } from '../../errors.js';
import { parseGoList } from './go-list.js';

const run = promisify(execFile);

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

/**
 * Files a main package embeds (//go:embed) anywhere in its own module, relative to
 * `root`: they are build inputs just like .go files.
 */
export async function embeddedFiles(moduleDir: string, main: string, root: string): Promise<string[]> {
  let stdout: string;
  try {
    ({ stdout } = await run('go', ['list', '-e', '-deps', '-json=Dir,EmbedFiles,Module', main], {
      cwd: moduleDir,
      maxBuffer: 256 * 1024 * 1024,
    }));
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? '`go` is not on PATH' : (error as Error).message;
    throw new AirlockError('PRESET_GO', `go list failed for ${main} in ${moduleDir}: ${reason}`, { cause: error });
  }
  const files: string[] = [];
  for (const pkg of parseGoList(stdout)) {
    if (!pkg.Module?.Main) continue;
    for (const file of pkg.EmbedFiles ?? []) files.push(relative(root, join(pkg.Dir, file)));
  }
  return files;
}
