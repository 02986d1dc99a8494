import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { basename, dirname, join, relative, sep } from 'node:path';
import { promisify } from 'node:util';
import { parseGoList } from '../config/presets/go-list.js';
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
  /** Package directory → sorted imports of each of its .go files, to notice import edits. */
  #imports = new Map<string, string>();
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
      const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? '`go` is not on PATH' : (error as Error).message;
      throw new AirlockError('PRESET_GO', `go list failed in ${this.moduleDir}: ${reason}`, { cause: error });
    }
    const packages = parseGoList(stdout);
    const byImportPath = new Map(packages.map((pkg) => [pkg.ImportPath, pkg]));
    const byDirPackage = new Map(packages.map((pkg) => [pkg.Dir, pkg]));
    const byDir = new Map<string, Set<string>>();
    const byFile = new Map<string, Set<string>>();
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
          imports.set(file, importsOf(await readFile(file, 'utf8')).join(' '));
        } catch {
          // deleted meanwhile: the next change lists again
        }
      }),
    );
    this.#byDir = byDir;
    this.#byFile = byFile;
    this.#imports = imports;
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

  /** A new or deleted .go file, a new package, or changed imports: the graph may be stale. */
  async #needsRefresh(paths: readonly string[]): Promise<boolean> {
    for (const path of paths) {
      const name = basename(path);
      if ((name === 'go.mod' || name === 'go.sum') && dirname(path) === this.moduleDir) return true;
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
      if (known === undefined || importsOf(source).join(' ') !== known) return true;
    }
    return false;
  }
}

function add(map: Map<string, Set<string>>, key: string, value: string): void {
  const set = map.get(key) ?? new Set<string>();
  set.add(value);
  map.set(key, set);
}
