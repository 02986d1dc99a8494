import { existsSync, readFileSync, statSync } from 'node:fs';
import { createRequire, isBuiltin } from 'node:module';
import { dirname, extname, join, relative, resolve, sep } from 'node:path';
import { compileFunction } from 'node:vm';

/** The names a module's code sees as its own: CommonJS's five, and timers the loader can clear at unload. */
const PARAMETERS = ['exports', 'require', 'module', '__filename', '__dirname', 'setTimeout', 'setInterval', 'setImmediate', 'clearTimeout', 'clearInterval', 'clearImmediate'];

/** A plugin that inline isolation cannot load the way it is written: the file and what to do. */
export class InlineLoadError extends Error {
  override readonly name = 'InlineLoadError';
}

type Handle = ReturnType<typeof setTimeout> | ReturnType<typeof setImmediate>;

/** Timers of one plugin version: each callback guarded (a throw is the plugin's failure, never the host's), all cleared at unload. */
export interface ScopedTimers {
  setTimeout: typeof setTimeout;
  setInterval: typeof setInterval;
  setImmediate: typeof setImmediate;
  clearTimeout: typeof clearTimeout;
  clearInterval: typeof clearInterval;
  clearImmediate: typeof clearImmediate;
}

/** The nearest package.json's "type" above a file: what Node itself would make of a .js. */
function packageType(file: string): string | undefined {
  for (let dir = dirname(file); ; dir = dirname(dir)) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        return (JSON.parse(readFileSync(pkg, 'utf8')) as { type?: string }).type;
      } catch {
        return undefined;
      }
    }
    if (dirname(dir) === dir) return undefined;
  }
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/**
 * A module registry for one version of an inline plugin: the plugin's own files (and
 * packages inside its directory) are compiled here as CommonJS into functions that only
 * this registry holds, so dropping the registry (release()) lets the garbage collector
 * take every one of them, with their closures; its timers are cleared first. Node's own
 * loader is never asked for them, so nothing stays in require.cache or the ES module map
 * (an `import('x?v=N')` per version keeps every version, and its timers, for good).
 * Builtins and packages outside the plugin's directory come from Node (loaded once, shared).
 *
 * ES modules cannot be loaded this way: Node 20 has no way to evaluate one that it ever
 * lets go of (import() keeps every module; even vm.SourceTextModule, behind
 * --experimental-vm-modules, kept 500 modules of 0.8 MB each, 383 MB, after a full
 * collection on Node 20.20, in a fresh context or not), so one is refused with what to do.
 *
 * @example
 *   const modules = new InlineModules('/srv/app/plugins/greet', (error) => console.error(error));
 *   const greet = modules.load('/srv/app/plugins/greet/index.cjs') as { hello(n: string): string };
 *   greet.hello('ada');
 *   modules.pending(); // ['1 interval set outside ctx was still pending (cleared at unload)']
 *   modules.release();
 */
export class InlineModules {
  readonly #cache = new Map<string, { exports: unknown }>();
  readonly #live = new Map<Handle, 'timeout' | 'interval' | 'immediate'>();
  #released = false;
  readonly timers: ScopedTimers;

  constructor(
    private readonly root: string,
    /** A timer callback of the plugin threw: the plugin failed (the host stays up). */
    private readonly onUncaught: (error: unknown) => void,
  ) {
    this.timers = this.#scopedTimers();
  }

  #scopedTimers(): ScopedTimers {
    const guard =
      (fn: (...args: unknown[]) => unknown, done?: () => void) =>
      (...args: unknown[]) => {
        done?.();
        if (this.#released) return;
        try {
          const result = fn(...args);
          if (result instanceof Promise) result.catch((error: unknown) => this.onUncaught(error));
        } catch (error) {
          this.onUncaught(error);
        }
      };
    const track = <H extends Handle>(handle: H, kind: 'timeout' | 'interval' | 'immediate'): H => {
      this.#live.set(handle, kind);
      return handle;
    };
    const forget = (clear: (h: never) => void) => (handle: Handle | undefined) => {
      if (handle === undefined) return;
      this.#live.delete(handle);
      clear(handle as never);
    };
    return {
      setTimeout: ((fn: (...a: unknown[]) => unknown, ms?: number, ...rest: unknown[]) => {
        const handle: ReturnType<typeof setTimeout> = setTimeout(guard(fn, () => this.#live.delete(handle)), ms, ...rest);
        return track(handle, 'timeout');
      }) as typeof setTimeout,
      setInterval: ((fn: (...a: unknown[]) => unknown, ms?: number, ...rest: unknown[]) => track(setInterval(guard(fn), ms, ...rest), 'interval')) as typeof setInterval,
      setImmediate: ((fn: (...a: unknown[]) => unknown, ...rest: unknown[]) => {
        const handle: ReturnType<typeof setImmediate> = setImmediate(guard(fn, () => this.#live.delete(handle)), ...rest);
        return track(handle, 'immediate');
      }) as typeof setImmediate,
      clearTimeout: forget(clearTimeout) as typeof clearTimeout,
      clearInterval: forget(clearInterval) as typeof clearInterval,
      clearImmediate: forget(clearImmediate) as typeof clearImmediate,
    };
  }

  /** Whether `path` is the plugin's own (compiled here) rather than Node's to load. */
  #own(path: string): boolean {
    return !relative(this.root, path).split(sep).includes('..');
  }

  /** The file a relative or absolute specifier names, the way require() finds it. */
  #resolveFile(specifier: string, from: string): string | undefined {
    const base = resolve(dirname(from), specifier);
    const candidates = [base, `${base}.js`, `${base}.cjs`, `${base}.json`, join(base, 'index.js'), join(base, 'index.cjs'), join(base, 'index.json')];
    return candidates.find(isFile);
  }

  /** Loads a file of the plugin as CommonJS (its exports), compiling it once per registry. */
  load(file: string): unknown {
    if (this.#released) throw new InlineLoadError(`${file}: this version was unloaded`);
    const cached = this.#cache.get(file);
    if (cached !== undefined) return cached.exports;
    const ext = extname(file);
    if (ext === '.json') {
      const module = { exports: JSON.parse(readFileSync(file, 'utf8')) as unknown };
      this.#cache.set(file, module);
      return module.exports;
    }
    if (ext === '.mjs' || (ext === '.js' && packageType(file) === 'module')) {
      throw new InlineLoadError(
        `${file} is an ES module (${ext === '.mjs' ? '.mjs' : 'a .js under "type": "module"'}); inline isolation loads CommonJS only, because Node cannot release an ES module once imported: write it as CommonJS (module.exports, a .cjs file) or use "isolation": "worker"`,
      );
    }
    const module = { exports: {} as unknown, id: file, filename: file, loaded: false };
    // Cached before it runs, as Node does: a require cycle sees the exports so far.
    this.#cache.set(file, module);
    const source = readFileSync(file, 'utf8').replace(/^#!.*/, '');
    let body: (...args: unknown[]) => unknown;
    try {
      body = compileFunction(source, PARAMETERS, { filename: file }) as (...args: unknown[]) => unknown;
    } catch (error) {
      this.#cache.delete(file);
      if (error instanceof SyntaxError && /\b(import|export)\b/.test(error.message)) {
        throw new InlineLoadError(`${file}: ${error.message}: it is written as an ES module; inline isolation loads CommonJS only (module.exports, require), or use "isolation": "worker"`);
      }
      throw error;
    }
    const t = this.timers;
    try {
      body.call(module.exports, module.exports, this.#requireFrom(file), module, file, dirname(file), t.setTimeout, t.setInterval, t.setImmediate, t.clearTimeout, t.clearInterval, t.clearImmediate);
    } catch (error) {
      this.#cache.delete(file);
      throw error;
    }
    module.loaded = true;
    return module.exports;
  }

  #requireFrom(file: string): NodeJS.Require {
    const node = createRequire(file);
    const own = (specifier: string): string | undefined => {
      if (isBuiltin(specifier)) return undefined;
      const path = specifier.startsWith('.') || specifier.startsWith('/') ? this.#resolveFile(specifier, file) : node.resolve(specifier);
      if (path === undefined) throw Object.assign(new Error(`Cannot find module '${specifier}' from ${file}`), { code: 'MODULE_NOT_FOUND' });
      return this.#own(path) ? path : undefined;
    };
    const require = ((specifier: string) => {
      const path = own(specifier);
      return path === undefined ? node(specifier) : this.load(path);
    }) as NodeJS.Require;
    require.resolve = ((specifier: string) => own(specifier) ?? node.resolve(specifier)) as NodeJS.RequireResolve;
    require.resolve.paths = node.resolve.paths;
    require.cache = Object.create(null) as NodeJS.Dict<NodeModule>;
    require.main = undefined;
    require.extensions = node.extensions;
    return require;
  }

  /** The timers this version set outside ctx and are still pending: what stop() reports as left behind. */
  pending(): string[] {
    const counts = new Map<string, number>();
    for (const kind of this.#live.values()) counts.set(kind, (counts.get(kind) ?? 0) + 1);
    return [...counts].map(([kind, n]) => `${n} ${kind}${n === 1 ? '' : 's'} set outside ctx ${n === 1 ? 'was' : 'were'} still pending (cleared at unload)`);
  }

  /** Unloads: clears every timer this version still has and forgets its modules, so nothing the host holds reaches them any more. */
  release(): void {
    this.#released = true;
    for (const [handle, kind] of this.#live) {
      if (kind === 'immediate') clearImmediate(handle as ReturnType<typeof setImmediate>);
      else clearTimeout(handle as ReturnType<typeof setTimeout>);
    }
    this.#live.clear();
    this.#cache.clear();
  }
}
