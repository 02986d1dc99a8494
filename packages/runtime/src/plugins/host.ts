import { EventEmitter } from 'node:events';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { noticesFromEnv, subscribePluginChanges } from './airlock-notices.js';
import { checkExports, ContractError, validate } from './contract.js';
import { isDir, PluginDirWatcher } from './dir-watch.js';
import { ManifestError, readManifest, type Manifest } from './manifest.js';
import { PluginInstance, PluginTimeout } from './instance.js';
import { PLUGIN_API_VERSION, type PluginEvent, type PluginHostOptions, type PluginInfo, type PluginState, type Slot } from './types.js';
import { endVersion, switchVersions } from './versions.js';

export { PLUGIN_API_VERSION, type PluginEvent, type PluginHostOptions, type PluginInfo, type PluginState };

const DEFAULT_TIMEOUTS = { load: 10_000, init: 5_000, health: 5_000, call: 5_000, stop: 5_000 };

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
  /** The host's own watching, when airlock does not tell it of changes. */
  #watcher: PluginDirWatcher | undefined;
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
    const names = existsSync(this.options.dir) ? readdirSync(this.options.dir).filter((name) => isDir(join(this.options.dir, name))) : [];
    await Promise.all(names.map((name) => this.#changed(name)));
    if (this.options.watch !== false && this.#notices === undefined) this.#watch();
  }

  /** Who tells this host of plugin changes: airlock (its control socket), the host's own watching, or nobody (watch: false). */
  get watching(): 'airlock' | 'self' | 'off' {
    return this.#watching;
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
    if (this.#closed || this.options.watch === false) return;
    this.#watching = 'self';
    // Called again when airlock's stream ended while start() was still loading: one watcher, every plugin's directories.
    this.#watcher ??= new PluginDirWatcher(this.options.dir, this.options.debounceMs ?? 100, (name) => void this.#changed(name));
    this.#watcher.start(this.#slots.keys());
  }

  /** A plugin's directory appeared, changed or went away. */
  #changed(name: string): Promise<void> {
    const dir = join(this.options.dir, name);
    let slot = this.#slots.get(name);
    if (slot === undefined) {
      if (!isDir(dir)) return Promise.resolve();
      slot = { name, dir, active: undefined, manifest: undefined, state: 'resolved', generation: 0, error: undefined, hold: undefined, swapping: Promise.resolve() };
      this.#slots.set(name, slot);
    }
    const run = slot.swapping.then(() => (isDir(dir) ? this.#load(slot) : this.#unload(slot)));
    slot.swapping = run.catch(() => undefined);
    return slot.swapping;
  }

  /** Loads a (new) version beside the active one; it takes calls only after every step passed. */
  async #load(slot: Slot): Promise<void> {
    if (this.#closed) return;
    const started = performance.now();
    let manifest: Manifest;
    try {
      manifest = readManifest(slot.dir, PLUGIN_API_VERSION, this.options.dir);
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
    const carryFailed = await switchVersions(slot, old, next, this.#timeouts.call, () => this.#activate(slot, next as PluginInstance, manifest, generation, started));
    if (carryFailed !== undefined) {
      await next.terminate();
      return this.#failed(slot, `${manifest.name} ${manifest.version}: ${carryFailed}`);
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
    const { leftovers, stopError } = await endVersion(old, this.#timeouts.stop);
    const left = stopError === undefined ? leftovers : [stopError];
    this.emit('event', { ...event, state: 'stopped', ...(left.length > 0 ? { leftovers: left } : {}) });
  }

  async #unload(slot: Slot): Promise<void> {
    const active = slot.active;
    slot.active = undefined;
    if (active !== undefined) {
      this.#emit(slot, 'stopping');
      // A removed plugin's failing stop() is not reported: its files are gone.
      const { leftovers } = await endVersion(active, this.#timeouts.stop);
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
    this.#notices?.close();
    await Promise.all(
      [...this.#slots.values()].map(async (slot) => {
        await slot.swapping;
        if (slot.active) await this.#retire(slot, slot.active);
        slot.active = undefined;
      }),
    );
  }
}
