import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { basename, dirname, join, relative, sep } from 'node:path';
import { promisify } from 'node:util';
import { parseGoList } from './go-list.js';
import picomatch from 'picomatch';
import { AirlockError } from '../errors.js';

const run = promisify(execFile);

/** The import paths in a Go file's import declarations (quick scan, no full parse). */
export function importsOf(source: string): string[] {
  const imports = new Set<string>();
  const header = source.split(/^func\s|^type\s|^var\s|^const\s/m)[0] ?? source;
  for (const block of header.matchAll(/^import\s*\(([\s\S]*?)\)/gm)) {
    for (const spec of (block[1] ?? '').matchAll(/"([^"]+)"/g)) imports.add(spec[1] as string);
  }
  for (const single of header.matchAll(/^import\s+(?:[\w.]+\s+)?"([^"]+)"/gm)) imports.add(single[1] as string);
  return [...imports].sort();
}

/**
 * What decides a file's place in the graph: its imports and its //go:embed lines. A
 * change to either means listing the module again; any other edit only rebuilds.
 */
export function graphShape(source: string): string {
  const embeds = source.match(/^\s*\/\/go:embed\s.*$/gm) ?? [];
  return [...importsOf(source), ...embeds.map((line) => line.trim())].join(' ');
}

/** Whether a path relative to a package directory matches one of its //go:embed patterns (a directory pattern matches all below it). */
function matchesEmbed(patterns: readonly string[], rel: string): boolean {
  return patterns.some((pattern) => {
    const clean = pattern.replace(/^all:/, '');
    return picomatch.isMatch(rel, clean, { dot: true }) || rel.startsWith(`${clean.replace(/\/$/, '')}/`) || picomatch.isMatch(rel, `${clean}/**`, { dot: true });
  });
}

/** What one change means for the services of a module. */
export interface Affected {
  /** Each service whose binary depends on the changed files, with the files that reach it. */
  readonly services: ReadonlyMap<string, readonly string[]>;
  /** The graph was rebuilt first (imports or the set of packages changed). */
  readonly refreshed: boolean;
}

/**
 * Which Go main packages (services) include which files, from one `go list -json ./...`
 * of the module and each main's import closure. A change maps to exactly the services whose binaries it
 * can change: .go files of their packages, files those packages embed, go.mod and go.sum
 * for all; _test.go files for none. When a change adds a package or changes a file's
 * imports, the graph is listed again first.
 *
 * @example
 *   const graph = new GoGraph('/src/shop', { api: './cmd/api', worker: './cmd/worker' });
 *   await graph.load();
 *   (await graph.affected(['/src/shop/internal/store/db.go'])).services; // Map { 'api' => [...], 'worker' => [...] }
 */
export class GoGraph {
  /** Package directory → services that include the package. */
  #byDir = new Map<string, Set<string>>();
  /** File (build input) → services. */
  #byFile = new Map<string, Set<string>>();
  /** .go file → its imports and //go:embed lines (graphShape), to notice edits that change the graph. */
  #imports = new Map<string, string>();
  /** Package directory (of a service's closure) → its //go:embed patterns, to notice a new embedded file. */
  #embedPatterns = new Map<string, readonly string[]>();
  #loading: Promise<void> | undefined;

  constructor(
    readonly moduleDir: string,
    private readonly mains: Readonly<Record<string, string>>,
  ) {}

  get services(): string[] {
    return Object.keys(this.mains);
  }

  /** Lists the module (again). Concurrent callers share one `go list`. */
  load(): Promise<void> {
    this.#loading ??= this.#list().finally(() => (this.#loading = undefined));
    return this.#loading;
  }

  /**
   * One `go list -e -json ./...` of the whole module, then each main's closure over the
   * module's own imports, computed here: one go invocation instead of one per main.
   */
  async #list(): Promise<void> {
    let stdout: string;
    try {
      ({ stdout } = await run('go', ['list', '-e', '-json', './...'], { cwd: this.moduleDir, maxBuffer: 512 * 1024 * 1024 }));
    } catch (error) {
      // go's own words (`invalid go version '1.23.0'`), not the wrapper's "Command failed".
      const stderr = (error as { stderr?: string }).stderr?.trim();
      const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? '`go` is not on PATH' : stderr || (error as Error).message;
      throw new AirlockError('PRESET_GO', `go list failed in ${this.moduleDir}: ${reason}`, { cause: error });
    }
    const packages = parseGoList(stdout);
    const byImportPath = new Map(packages.map((pkg) => [pkg.ImportPath, pkg]));
    const byDirPackage = new Map(packages.map((pkg) => [pkg.Dir, pkg]));
    const byDir = new Map<string, Set<string>>();
    const byFile = new Map<string, Set<string>>();
    const embedPatterns = new Map<string, readonly string[]>();
    for (const [service, main] of Object.entries(this.mains)) {
      const root = byDirPackage.get(join(this.moduleDir, main));
      const stack = root ? [root] : [];
      const seen = new Set<string>();
      while (stack.length > 0) {
        const pkg = stack.pop() as (typeof packages)[number];
        if (seen.has(pkg.ImportPath)) continue;
        seen.add(pkg.ImportPath);
        add(byDir, pkg.Dir, service);
        const files = [pkg.GoFiles, pkg.CgoFiles, pkg.CFiles, pkg.HFiles, pkg.SFiles, pkg.EmbedFiles].flatMap((list) => list ?? []);
        for (const file of files) add(byFile, join(pkg.Dir, file), service);
        if (pkg.EmbedPatterns && pkg.EmbedPatterns.length > 0) embedPatterns.set(pkg.Dir, pkg.EmbedPatterns);
        for (const imported of pkg.Imports ?? []) {
          const next = byImportPath.get(imported);
          if (next) stack.push(next);
        }
      }
    }
    // Record each file's own imports, to tell an import edit from a body edit later.
    const imports = new Map<string, string>();
    const goFiles = packages.flatMap((pkg) => [...(pkg.GoFiles ?? []), ...(pkg.CgoFiles ?? [])].map((file) => join(pkg.Dir, file)));
    await Promise.all(
      goFiles.map(async (file) => {
        try {
          imports.set(file, graphShape(await readFile(file, 'utf8')));
        } catch {
          // deleted meanwhile: the next change lists again
        }
      }),
    );
    this.#byDir = byDir;
    this.#byFile = byFile;
    this.#imports = imports;
    this.#embedPatterns = embedPatterns;
  }

  /**
   * Whether a file (absolute path) is an input of some service: its packages' .go files,
   * the files they embed, and a file that one of their //go:embed patterns would take in
   * (a new template in an embedded directory).
   */
  isInput(path: string): boolean {
    return this.#byFile.has(path) || this.#embeddedByPattern(path);
  }

  #embeddedByPattern(path: string): boolean {
    for (let dir = dirname(path); dir.length >= this.moduleDir.length; dir = dirname(dir)) {
      const patterns = this.#embedPatterns.get(dir);
      if (patterns && matchesEmbed(patterns, relative(dir, path).split(sep).join('/'))) return true;
      if (dir === dirname(dir)) break;
    }
    return false;
  }

  /** Services affected by these changed paths (absolute). */
  async affected(paths: readonly string[]): Promise<Affected> {
    let refreshed = false;
    if (await this.#needsRefresh(paths)) {
      await this.load();
      refreshed = true;
    }
    const services = new Map<string, string[]>();
    for (const path of paths) {
      for (const service of this.#servicesOf(path)) services.set(service, [...(services.get(service) ?? []), path]);
    }
    return { services, refreshed };
  }

  #servicesOf(path: string): Iterable<string> {
    const name = basename(path);
    if ((name === 'go.mod' || name === 'go.sum') && dirname(path) === this.moduleDir) return this.services;
    if (name.endsWith('_test.go')) return [];
    return this.#byFile.get(path) ?? (name.endsWith('.go') ? (this.#byDir.get(dirname(path)) ?? []) : []);
  }

  /** A new or deleted .go file, a new package, changed imports or embeds, a new embedded file: the graph may be stale. */
  async #needsRefresh(paths: readonly string[]): Promise<boolean> {
    for (const path of paths) {
      const name = basename(path);
      if ((name === 'go.mod' || name === 'go.sum') && dirname(path) === this.moduleDir) return true;
      if (!this.#byFile.has(path) && this.#embeddedByPattern(path)) return true;
      if (!name.endsWith('.go') || name.endsWith('_test.go')) continue;
      if (relative(this.moduleDir, path).split(sep).some((part) => part === 'vendor' || part === 'testdata')) continue;
      const known = this.#imports.get(path);
      let source: string;
      try {
        source = await readFile(path, 'utf8');
      } catch {
        if (known !== undefined) return true; // a listed file was deleted
        continue;
      }
      if (known === undefined || graphShape(source) !== known) return true;
    }
    return false;
  }
}

function add(map: Map<string, Set<string>>, key: string, value: string): void {
  const set = map.get(key) ?? new Set<string>();
  set.add(value);
  map.set(key, set);
}
