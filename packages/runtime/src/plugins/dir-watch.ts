import { readdirSync, statSync, watch, type FSWatcher } from 'node:fs';
import { basename, dirname, join } from 'node:path';

export function isDir(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/**
 * The host's own watching of a plugin directory (when airlock does not tell it of
 * changes): one watcher on the directory, one per directory of each plugin (non-recursive:
 * Node 20's recursive watch on Linux loses a file replaced by rename), the parent watched
 * while the directory does not exist yet, and each plugin's events debounced into one
 * `changed(name)` once its files stopped changing.
 *
 * @example
 *   const watcher = new PluginDirWatcher('plugins', 100, (name) => host.reload(name));
 *   watcher.start(['greet']);
 *   watcher.close();
 */
export class PluginDirWatcher {
  #watcher: FSWatcher | undefined;
  /** Watches the parent while the plugin directory does not exist. */
  #parentWatcher: FSWatcher | undefined;
  readonly #dirWatchers = new Map<string, Map<string, FSWatcher>>();
  readonly #pending = new Map<string, NodeJS.Timeout>();
  #closed = false;

  constructor(
    private readonly dir: string,
    private readonly debounceMs: number,
    private readonly changed: (name: string) => void,
  ) {}

  /** Watches the directory and the plugins known so far (called again, it adds what is new: one watcher each). */
  start(known: Iterable<string>): void {
    if (this.#closed) return;
    if (this.#watcher === undefined) {
      try {
        this.#watcher = watch(this.dir, (_type, file) => {
          if (file !== null) this.touched(String(file));
        });
        this.#watcher.on('error', () => undefined);
      } catch {
        // Not there yet: nothing to load; wait for it to appear.
        this.#awaitDir();
      }
    }
    for (const name of known) this.#watchPlugin(name);
  }

  /** Watches the parent of a plugin directory that does not exist yet; once it does, watches it and loads what lands in it. */
  #awaitDir(): void {
    if (this.#parentWatcher !== undefined) return;
    const dir = this.dir;
    try {
      const watcher = watch(dirname(dir), (_type, file) => {
        if (file === null || String(file) !== basename(dir) || !isDir(dir) || this.#closed) return;
        watcher.close();
        this.#parentWatcher = undefined;
        this.start([]);
        // Debounced like any change: a copied-in tree may still be landing.
        for (const name of readdirSync(dir)) if (isDir(join(dir, name))) this.touched(name);
      });
      watcher.on('error', () => undefined);
      this.#parentWatcher = watcher;
    } catch {
      // Its parent is missing too: nothing this host can watch.
    }
  }

  /** Something in a plugin's directory changed (or the directory itself came or went). */
  touched(name: string): void {
    if (this.#closed) return;
    this.#watchPlugin(name);
    const previous = this.#pending.get(name);
    if (previous) clearTimeout(previous);
    // Editors save in steps (a temp file renamed over, a directory before its files): act once they stopped.
    this.#pending.set(
      name,
      setTimeout(() => {
        this.#pending.delete(name);
        this.changed(name);
      }, this.debounceMs),
    );
  }

  /** Watches every directory of a plugin (new ones too, on each change); drops the watchers of a removed one. */
  #watchPlugin(name: string): void {
    if (this.#closed) return;
    const watchers = this.#dirWatchers.get(name) ?? new Map<string, FSWatcher>();
    this.#dirWatchers.set(name, watchers);
    const dirs: string[] = [];
    const walk = (dir: string) => {
      if (!isDir(dir)) return;
      dirs.push(dir);
      for (const entry of readdirSync(dir, { withFileTypes: true })) if (entry.isDirectory() && entry.name !== 'node_modules') walk(join(dir, entry.name));
    };
    try {
      walk(join(this.dir, name));
    } catch {
      // removed while walking: the watchers below go
    }
    for (const [dir, watcher] of watchers) {
      if (dirs.includes(dir)) continue;
      watcher.close();
      watchers.delete(dir);
    }
    for (const dir of dirs) {
      if (watchers.has(dir)) continue;
      try {
        const watcher = watch(dir, () => this.touched(name));
        watcher.on('error', () => undefined);
        watchers.set(dir, watcher);
      } catch {
        // gone again
      }
    }
  }

  close(): void {
    this.#closed = true;
    this.#watcher?.close();
    this.#parentWatcher?.close();
    for (const watchers of this.#dirWatchers.values()) for (const watcher of watchers.values()) watcher.close();
    this.#dirWatchers.clear();
    for (const timer of this.#pending.values()) clearTimeout(timer);
  }
}
