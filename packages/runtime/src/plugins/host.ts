import { EventEmitter } from 'node:events';
import { existsSync, readdirSync, statSync, watch, type FSWatcher } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { ResourceLimits } from 'node:worker_threads';
import { noticesFromEnv, subscribePluginChanges, type AirlockNotices } from './airlock-notices.js';
import { checkExports, ContractError, validate, type Contract } from './contract.js';
import { ManifestError, readManifest, type Manifest } from './manifest.js';
import { PluginInstance, PluginTimeout } from './instance.js';

/** The plugin API version of this host; a plugin's manifest `host` range must accept it. */
export const PLUGIN_API_VERSION = '1.0.0';

export type PluginState = 'resolved' | 'loaded' | 'initialised' | 'active' | 'stopping' | 'stopped' | 'unloaded' | 'failed';

/** One plugin as `host.plugins()` lists it. */
export interface PluginInfo {
  readonly name: string;
  readonly version: string | undefined;
  readonly state: PluginState;
  /** 1 for the first version loaded, +1 for every swap (and every replacement of a stuck worker). */
  readonly generation: number;
  readonly error: string | undefined;
}

/** Every lifecycle step, as the host emits it on 'event'. */
export interface PluginEvent {
  readonly name: string;
  readonly version: string | undefined;
  readonly generation: number;
  readonly state: PluginState;
  readonly error?: string;
  /** How long the step took (ms), where it is one. */
  readonly ms?: number;
  /** What a stopped version left behind (stop() threw, resources outside ctx). */
  readonly leftovers?: readonly string[];
}

export interface PluginHostOptions {
  /** The directory whose subdirectories are plugins (each with a plugin.json). */
  readonly dir: string;
  /** Contracts by plugin name. */
  readonly contracts?: Readonly<Record<string, Contract>>;
  /** Watch `dir` and swap a plugin when its files change (default true). */
  readonly watch?: boolean;
  /**
   * Hear of changes from airlock instead of watching `dir` (when watching): by default
   * from the environment airlock gives a service whose `plugins: { dir }` names this
   * directory under `airlock dev`; false: always watch on our own.
   */
  readonly airlock?: AirlockNotices | false;
  /** Per-step timeouts (ms): load, init, health, a call, stop. */
  readonly timeouts?: Partial<Record<'load' | 'init' | 'health' | 'call' | 'stop', number>>;
  /** The worker's limits (default: 64 MB of old generation). */
  readonly resourceLimits?: ResourceLimits;
  /** Quiet time after the last file event of a plugin before it is swapped (default 100 ms). */
  readonly debounceMs?: number;
}

const DEFAULT_TIMEOUTS = { load: 10_000, init: 5_000, health: 5_000, call: 5_000, stop: 5_000 };

interface Slot {
  readonly name: string;
  readonly dir: string;
  active: PluginInstance | undefined;
  manifest: Manifest | undefined;
  state: PluginState;
  generation: number;
  error: string | undefined;
  /** Calls wait on this while state moves from one version to the next (snapshot → restore). */
  hold: Promise<void> | undefined;
  /** One swap at a time per plugin; a change meanwhile runs after it. */
  swapping: Promise<void>;
}

/**
 * Plugins inside a running Node service, swapped without restarting it (docs/plugins.md).
 * Each subdirectory of `dir` with a plugin.json is a plugin; its manifest is checked
 * before any of its code runs, then it loads in its own worker thread, is initialised,
 * passes an optional health(), and takes calls. When its files change, the new version
 * goes through the same steps beside the old one, which keeps serving; only when the new
 * one is healthy do calls move to it (state carried by snapshot()/restore()), and the old
 * one finishes what it holds, stops, and its worker ends. A new version that fails any
 * step leaves the old one active with the error visible. A plugin that throws, exits,
 * loops or runs out of memory fails alone; a call that does not return in time fails and
 * its worker is replaced.
 *
 * @example
 *   const host = new PluginHost({ dir: 'plugins', contracts: { greet: { exports: { hello: {} } } } });
 *   host.on('event', (e) => console.log(e.name, e.state, e.error ?? ''));
 *   await host.start();
 *   await host.call('greet', 'hello', 'ada'); // 'hello ada'
 *   await host.close();
 */
export class PluginHost extends EventEmitter<{ event: [PluginEvent]; log: [{ name: string; level: string; line: string }] }> {
  readonly #slots = new Map<string, Slot>();
  readonly #timeouts: typeof DEFAULT_TIMEOUTS;
  #watcher: FSWatcher | undefined;
  /** Watches the parent while the plugin directory does not exist. */
  #parentWatcher: FSWatcher | undefined;
  /** Per plugin, a watcher for each of its directories (non-recursive: Node 20's recursive watch on Linux loses a file replaced by rename). */
  readonly #dirWatchers = new Map<string, Map<string, FSWatcher>>();
  readonly #pending = new Map<string, NodeJS.Timeout>();
  #closed = false;
  #watching: 'airlock' | 'self' | 'off' = 'off';
  #notices: { close(): void } | undefined;

  constructor(private readonly options: PluginHostOptions) {
    super();
    this.#timeouts = { ...DEFAULT_TIMEOUTS, ...options.timeouts };
  }

  /**
   * Loads every plugin in the directory (failures are per plugin, in plugins()), then
   * watches it, or, under airlock dev, subscribes to airlock's notices of its changes
   * first (so none made while loading is missed).
   */
  async start(): Promise<void> {
    const notices = this.options.watch === false || this.options.airlock === false ? undefined : (this.options.airlock ?? noticesFromEnv(this.options.dir));
    if (notices !== undefined) {
      this.#notices = await subscribePluginChanges(
        notices,
        (name) => void this.#changed(name),
        (why) => {
          // airlock went (or restarts): from now on the host watches for itself.
          this.#notices = undefined;
          this.emit('log', { name: '', level: 'warn', line: `plugin changes: ${why}; watching ${this.options.dir} from now on` });
          this.#watch();
        },
      );
      if (this.#notices !== undefined) this.#watching = 'airlock';
    }
    const names = existsSync(this.options.dir) ? readdirSync(this.options.dir).filter((name) => this.#isDir(join(this.options.dir, name))) : [];
    await Promise.all(names.map((name) => this.#changed(name)));
    if (this.options.watch !== false && this.#notices === undefined) this.#watch();
  }

  /** Who tells this host of plugin changes: airlock (its control socket), the host's own watching, or nobody (watch: false). */
  get watching(): 'airlock' | 'self' | 'off' {
    return this.#watching;
  }

  #isDir(path: string): boolean {
    try {
      return statSync(path).isDirectory();
    } catch {
      return false;
    }
  }

  /** Loads a plugin's directory again now, as a change of its files would (a swap), or unloads it when it is gone. */
  reload(name: string): Promise<void> {
    return this.#changed(name);
  }

  plugins(): PluginInfo[] {
    return [...this.#slots.values()]
      .map((slot) => ({ name: slot.name, version: slot.manifest?.version, state: slot.state, generation: slot.generation, error: slot.error }))
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  /**
   * Calls an export of the active version: arguments and result checked against the
   * plugin's contract (when it has one). During a swap the call waits for the new version
   * (a moment), never fails for it.
   */
  async call(name: string, fn: string, ...args: unknown[]): Promise<unknown> {
    const slot = this.#slots.get(name);
    if (slot === undefined) throw new Error(`no plugin named "${name}"; loaded: ${[...this.#slots.keys()].join(', ') || 'none'}`);
    const spec = this.options.contracts?.[name]?.exports[fn];
    if (this.options.contracts?.[name] !== undefined && spec === undefined) throw new ContractError(`${name}.${fn} is not in the plugin's contract`);
    const checked = (await validate(spec?.args, args, `${name}.${fn} arguments`)) as unknown[];
    while (slot.hold) await slot.hold;
    const instance = slot.active;
    if (instance === undefined || slot.state !== 'active') throw new Error(`plugin "${name}" is not active (${slot.state}${slot.error ? `: ${slot.error}` : ''})`);
    try {
      const result = await instance.call(fn, checked, this.#timeouts.call);
      return await validate(spec?.result, result, `${name}.${fn} result`);
    } catch (error) {
      if (error instanceof PluginTimeout && slot.active === instance) void this.#replaceStuck(slot, instance, error.message);
      throw error;
    }
  }

  #emit(slot: Slot, state: PluginState, extra: Partial<PluginEvent> = {}): void {
    slot.state = state;
    this.emit('event', { name: slot.name, version: slot.manifest?.version, generation: slot.generation, state, ...extra });
  }

  #watch(): void {
    if (this.#closed) return;
    this.#watching = 'self';
    // Called again when airlock's stream ended while start() was still loading: one watcher, every plugin's directories.
    if (this.#watcher === undefined) {
      try {
        this.#watcher = watch(this.options.dir, (_type, file) => {
          if (file !== null) this.#touched(String(file));
        });
        this.#watcher.on('error', () => undefined);
      } catch {
        // Not there yet: start() found nothing to load; wait for it to appear.
        this.#awaitDir();
      }
    }
    for (const name of this.#slots.keys()) this.#watchPlugin(name);
  }

  /** Watches the parent of a plugin directory that does not exist yet; once it does, watches it and loads what lands in it. */
  #awaitDir(): void {
    if (this.#parentWatcher !== undefined) return;
    const dir = this.options.dir;
    try {
      const watcher = watch(dirname(dir), (_type, file) => {
        if (file === null || String(file) !== basename(dir) || !this.#isDir(dir) || this.#closed) return;
        watcher.close();
        this.#parentWatcher = undefined;
        this.#watch();
        // Debounced like any change: a copied-in tree may still be landing.
        for (const name of readdirSync(dir)) if (this.#isDir(join(dir, name))) this.#touched(name);
      });
      watcher.on('error', () => undefined);
      this.#parentWatcher = watcher;
    } catch {
      // Its parent is missing too: nothing this host can watch.
    }
  }

  /** Something in a plugin's directory changed (or the directory itself came or went). */
  #touched(name: string): void {
    if (this.#closed) return;
    this.#watchPlugin(name);
    const previous = this.#pending.get(name);
    if (previous) clearTimeout(previous);
    // Editors save in steps (a temp file renamed over, a directory before its files): act once they stopped.
    this.#pending.set(
      name,
      setTimeout(() => {
        this.#pending.delete(name);
        void this.#changed(name);
      }, this.options.debounceMs ?? 100),
    );
  }

  /** Watches every directory of a plugin (new ones too, on each change); drops the watchers of a removed one. */
  #watchPlugin(name: string): void {
    if (this.options.watch === false || this.#closed) return;
    const watchers = this.#dirWatchers.get(name) ?? new Map<string, FSWatcher>();
    this.#dirWatchers.set(name, watchers);
    const dirs: string[] = [];
    const walk = (dir: string) => {
      if (!this.#isDir(dir)) return;
      dirs.push(dir);
      for (const entry of readdirSync(dir, { withFileTypes: true })) if (entry.isDirectory() && entry.name !== 'node_modules') walk(join(dir, entry.name));
    };
    try {
      walk(join(this.options.dir, name));
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
        const watcher = watch(dir, () => this.#touched(name));
        watcher.on('error', () => undefined);
        watchers.set(dir, watcher);
      } catch {
        // gone again
      }
    }
  }

  /** A plugin's directory appeared, changed or went away. */
  #changed(name: string): Promise<void> {
    const dir = join(this.options.dir, name);
    let slot = this.#slots.get(name);
    if (slot === undefined) {
      if (!this.#isDir(dir)) return Promise.resolve();
      slot = { name, dir, active: undefined, manifest: undefined, state: 'resolved', generation: 0, error: undefined, hold: undefined, swapping: Promise.resolve() };
      this.#slots.set(name, slot);
    }
    const run = slot.swapping.then(() => (this.#isDir(dir) ? this.#load(slot) : this.#unload(slot)));
    slot.swapping = run.catch(() => undefined);
    return slot.swapping;
  }

  /** Loads a (new) version beside the active one; it takes calls only after every step passed. */
  async #load(slot: Slot): Promise<void> {
    if (this.#closed) return;
    const started = performance.now();
    let manifest: Manifest;
    try {
      manifest = readManifest(slot.dir, PLUGIN_API_VERSION);
    } catch (error) {
      // A directory made before its files land: nothing to say until a plugin.json is there.
      // (The error says so, not a second look: the file may have landed since, and its own event follows.)
      if (error instanceof ManifestError && error.missing && slot.active === undefined && slot.generation === 0) return;
      return this.#failed(slot, (error as Error).message);
    }
    const generation = slot.generation + 1;
    // The new version's own steps; the slot keeps saying "active" while an old version serves.
    const progress = (state: PluginState, ms?: number) => {
      if (slot.active === undefined) slot.state = state;
      this.emit('event', { name: slot.name, version: manifest.version, generation, state, ...(ms === undefined ? {} : { ms }) });
    };
    progress('resolved');
    const log = (level: string, line: string) => this.emit('log', { name: slot.name, level, line });
    let next: PluginInstance | undefined;
    const step = async <T>(what: string, work: Promise<T>): Promise<T> => {
      try {
        return await work;
      } catch (error) {
        throw new Error(`${what}: ${(error as Error).message}`);
      }
    };
    try {
      next = await step('load', PluginInstance.load(slot.dir, manifest, this.options.resourceLimits ?? { maxOldGenerationSizeMb: 64 }, (why) => this.#ended(slot, next as PluginInstance, why), log, this.#timeouts.load));
      progress('loaded', performance.now() - started);
      const mismatch = checkExports(this.options.contracts?.[manifest.name], next.exports);
      if (mismatch) throw new ContractError(`does not fit its contract: ${mismatch}`);
      await step('init', next.request('init', {}, this.#timeouts.init));
      progress('initialised', performance.now() - started);
      const healthy = await step('health', next.request('health', {}, this.#timeouts.health));
      if (healthy === false) throw new Error('health() said false');
    } catch (error) {
      await next?.terminate();
      return this.#failed(slot, `${manifest.name} ${manifest.version}: ${(error as Error).message}`);
    }
    const old = slot.active;
    if (old !== undefined && old.ended === undefined && typeof next.exports.get('restore') === 'string' && old.exports.get('snapshot') === 'function') {
      // Calls wait while the state moves: none lands on the old version after its snapshot.
      let release: () => void = () => undefined;
      slot.hold = new Promise((resolve) => (release = resolve));
      try {
        await old.idle();
        // A copy, whatever the isolation: inline, the old version's objects (and through
        // them its closures) would otherwise outlive it in the new one.
        const state = structuredClone(await old.request('snapshot', {}, this.#timeouts.call));
        await next.request('restore', { state }, this.#timeouts.call);
      } catch (error) {
        slot.hold = undefined;
        release();
        await next.terminate();
        return this.#failed(slot, `${manifest.name} ${manifest.version}: carrying state over: ${(error as Error).message}`);
      }
      this.#activate(slot, next, manifest, generation, started);
      slot.hold = undefined;
      release();
    } else {
      this.#activate(slot, next, manifest, generation, started);
    }
    if (old !== undefined) await this.#retire(slot, old);
  }

  #activate(slot: Slot, next: PluginInstance, manifest: Manifest, generation: number, started: number): void {
    slot.active = next;
    slot.manifest = manifest;
    slot.generation = generation;
    slot.error = undefined;
    this.#emit(slot, 'active', { ms: performance.now() - started });
  }

  /** An old version: finishes the calls it holds, stops (its resources released in reverse order), and its worker ends. */
  async #retire(slot: Slot, old: PluginInstance): Promise<void> {
    const event = { name: slot.name, version: slot.manifest?.version, generation: slot.generation };
    this.emit('event', { ...event, state: 'stopping' });
    await old.idle();
    let leftovers: string[] = [];
    try {
      leftovers = ((await old.request('stop', {}, this.#timeouts.stop)) as string[] | undefined) ?? [];
    } catch (error) {
      leftovers = [`stop: ${(error as Error).message}`];
    }
    await old.terminate();
    this.emit('event', { ...event, state: 'stopped', ...(leftovers.length > 0 ? { leftovers } : {}) });
  }

  async #unload(slot: Slot): Promise<void> {
    const active = slot.active;
    slot.active = undefined;
    if (active !== undefined) {
      this.#emit(slot, 'stopping');
      await active.idle();
      const leftovers = ((await active.request('stop', {}, this.#timeouts.stop).catch(() => [])) as string[] | undefined) ?? [];
      await active.terminate();
      this.#emit(slot, 'stopped', leftovers.length > 0 ? { leftovers } : {});
    }
    this.#emit(slot, 'unloaded');
    this.#slots.delete(slot.name);
  }

  /** A step failed: the active version (if any) keeps serving, with the error visible. */
  #failed(slot: Slot, message: string): void {
    slot.error = message;
    if (slot.active !== undefined && slot.active.ended === undefined) {
      this.emit('event', { name: slot.name, version: slot.manifest?.version, generation: slot.generation, state: 'failed', error: message });
      return;
    }
    this.#emit(slot, 'failed', { error: message });
  }

  /** The worker of a version ended on its own (a throw, process.exit, out of memory). */
  #ended(slot: Slot, instance: PluginInstance, why: string): void {
    if (slot.active !== instance || this.#closed) return;
    slot.active = undefined;
    this.#failed(slot, `${slot.manifest?.name ?? slot.name} ${slot.manifest?.version ?? ''}: ${why}`.replace('  ', ' '));
  }

  /** A call ran past its timeout: the stuck worker ends and the same version starts again. */
  async #replaceStuck(slot: Slot, stuck: PluginInstance, why: string): Promise<void> {
    if (slot.active !== stuck) return;
    slot.active = undefined;
    slot.error = `${slot.name}: ${why}; its worker was replaced`;
    this.#emit(slot, 'failed', { error: slot.error });
    await stuck.terminate();
    await this.#changed(slot.name);
  }

  /** Stops every plugin (each finishes its calls, stop() runs, resources are released) and the watching. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#watcher?.close();
    this.#parentWatcher?.close();
    this.#notices?.close();
    for (const watchers of this.#dirWatchers.values()) for (const watcher of watchers.values()) watcher.close();
    this.#dirWatchers.clear();
    for (const timer of this.#pending.values()) clearTimeout(timer);
    await Promise.all(
      [...this.#slots.values()].map(async (slot) => {
        await slot.swapping;
        if (slot.active) await this.#retire(slot, slot.active);
        slot.active = undefined;
      }),
    );
  }
}
