import type { ResourceLimits } from 'node:worker_threads';
import type { AirlockNotices } from './airlock-notices.js';
import type { Contract } from './contract.js';
import type { PluginInstance } from './instance.js';
import type { Manifest } from './manifest.js';

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
  /**
   * The worker's limits (default: 64 MB of old generation), and `maxExternalMb`: memory
   * it may hold outside its JS heap, in Buffers and ArrayBuffers (default 256), which
   * the thread reports every 100 ms and the host enforces by ending it.
   */
  readonly resourceLimits?: ResourceLimits & { readonly maxExternalMb?: number };
  /** Quiet time after the last file event of a plugin before it is swapped (default 100 ms). */
  readonly debounceMs?: number;
}

/** One plugin's place in the host: its active version and where it is in its lifecycle. */
export interface Slot {
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
