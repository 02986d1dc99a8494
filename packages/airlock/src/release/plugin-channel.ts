import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { syncDir, writeAtomic } from '../atomic-file.js';
import type { ReleasePlan, ServicePlan } from '../config/plan.js';
import { parseLocation } from '../config/release-location.js';
import { AirlockError, fullCode } from '../errors.js';
import type { EventBus } from '../events.js';
import { ReleaseChannel, type Release } from './channel.js';
import { watchTimestamp } from './nats/changes.js';
import { unpackRelease } from './unpack.js';

/**
 * Written into every plugin directory this installs (over any file of that name the
 * archive held): the app's PluginHost reads it as "came from a channel", so the plugin
 * runs sandboxed with only the permissions its manifest grants, nothing by default.
 */
export const REMOTE_MARKER = '.airlock-release.json';

/**
 * Downloads a plugin release to `file` (tuf-js checks length and hash as it streams),
 * unpacks it into `into` with the release extraction rules, and checks that its
 * plugin.json names the plugin it was published as; returns that manifest.
 *
 * @example
 *   const manifest = await fetchPlugin(channel, release, '/tmp/x.tar.gz', '/tmp/x');
 */
export async function fetchPlugin(channel: ReleaseChannel, release: Release, file: string, into: string): Promise<Record<string, unknown>> {
  const name = release.plugin ?? '';
  await channel.download(release, file);
  await unpackRelease(file, into);
  let manifest: Record<string, unknown>;
  try {
    manifest = JSON.parse(readFileSync(join(into, 'plugin.json'), 'utf8')) as Record<string, unknown>;
  } catch (error) {
    throw new AirlockError('RELEASE_REFUSED', `plugin ${name} ${release.version}: its plugin.json cannot be read: ${(error as Error).message}`);
  }
  if (manifest.name !== name) throw new AirlockError('RELEASE_REFUSED', `plugin ${name} ${release.version}: its plugin.json names ${JSON.stringify(manifest.name)}, not ${name}`);
  return manifest;
}

/**
 * Why a host would refuse to run a plugin from a channel with this manifest, or undefined:
 * it asks for a thread isolation, which cannot be sandboxed.
 */
export function isolationRefusal(manifest: Record<string, unknown>): string | undefined {
  const isolation = manifest.isolation;
  return isolation === undefined || isolation === 'process' ? undefined : `refused by the host: isolation ${JSON.stringify(isolation)} cannot be sandboxed (a plugin from a channel runs in "process")`;
}

/**
 * A plugin manifest's grants in one line, as the host will enforce them (a plugin from a
 * channel runs sandboxed: no permissions block means nothing at all).
 *
 * @example
 *   describeGrants({ permissions: { fs: ['read:./data'], memoryMB: 64 } }); // 'fs read:./data · no network · no processes · memory 64 MB'
 */
export function describeGrants(manifest: Record<string, unknown>): string {
  const p = (manifest.permissions ?? {}) as { fs?: unknown; net?: unknown; child?: unknown; memoryMB?: unknown; cpuMsPerSecond?: unknown };
  const fs = Array.isArray(p.fs) && p.fs.length > 0 ? `fs ${p.fs.join(', ')}` : 'no files but its own';
  const net = Array.isArray(p.net) && p.net.length > 0 ? `net ${p.net.join(', ')}` : 'no network';
  const parts = [fs, net, p.child === true ? 'child processes' : 'no processes'];
  if (typeof p.memoryMB === 'number') parts.push(`memory ${p.memoryMB} MB`);
  if (typeof p.cpuMsPerSecond === 'number') parts.push(`CPU ${p.cpuMsPerSecond} ms/s`);
  return parts.join(' · ');
}

/** The newest release of each plugin of `service` on `channel`, by plugin name (a refresh of the channel). */
export async function newestPlugins(channel: ReleaseChannel, service: string, channelName: string): Promise<Map<string, Release>> {
  const newest = new Map<string, Release>();
  // pluginReleases lists newest first: the first of each name is its newest.
  for (const release of await channel.pluginReleases(service, channelName)) if (!newest.has(release.plugin as string)) newest.set(release.plugin as string, release);
  return newest;
}

/** One installed plugin release, as the state file and `airlock status` keep it. */
export interface InstalledPlugin {
  readonly version: number;
  readonly sha256: string;
}

/**
 * A service's plugins from a signed channel (`plugins: { dir, release }`). Each check
 * refreshes the channel through tuf-js and, for every plugin of the service, takes the
 * newest release: it is downloaded (length and hash checked while it streams), unpacked
 * under .airlock/ with the release extraction rules, its plugin.json must name the plugin,
 * and only then is the directory renamed into `dir/<name>` whole, so the app's host never
 * sees a refused or half-written plugin. A refusal (tampering, a version below the one
 * installed, a wrong name) is said once and changes nothing: the plugin that runs keeps
 * answering calls.
 *
 * @example
 *   const plugins = new PluginChannel(() => plan, bus);
 *   plugins.start();
 *   await plugins.stop();
 */
export class PluginChannel {
  #channel: ReleaseChannel | undefined;
  #timer: NodeJS.Timeout | undefined;
  #stopWatch: (() => void) | undefined;
  #checking: Promise<void> | undefined;
  #again = false;
  #stopped = false;
  /** The last refusal said, per plugin ('' for the channel): said again only when it changes. */
  readonly #said = new Map<string, string>();
  /** Releases refused for what they are (tampered, misnamed), by plugin: not fetched again until the channel offers another. */
  readonly #refused = new Map<string, string>();

  constructor(
    private readonly plan: () => ServicePlan,
    private readonly bus: EventBus,
  ) {}

  get #settings(): ReleasePlan & { dir: string } {
    const { plugins } = this.plan();
    if (plugins?.release === undefined || plugins.dir === undefined) throw new Error('a PluginChannel needs plugins.dir and plugins.release');
    return { ...plugins.release, dir: plugins.dir };
  }

  get #home(): string {
    return join(this.plan().dir, '.airlock', 'release', this.plan().name, 'plugins');
  }

  /** What is installed from the channel, by plugin name (read from disk: it outlives restarts). */
  installed(): Record<string, InstalledPlugin> {
    const file = join(this.#home, 'state.json');
    return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Record<string, InstalledPlugin>) : {};
  }

  /** What is installed, with the grants each one's manifest gives (for `airlock status`). */
  status(): { name: string; version: number; sha256: string; grants: string }[] {
    const dir = this.#settings.dir;
    return Object.entries(this.installed()).map(([name, installed]) => {
      let grants = 'its plugin.json cannot be read';
      try {
        const manifest = JSON.parse(readFileSync(join(dir, name, 'plugin.json'), 'utf8')) as Record<string, unknown>;
        grants = isolationRefusal(manifest) ?? describeGrants(manifest);
      } catch {
        // Said as it is.
      }
      return { name, ...installed, grants };
    });
  }

  /** Checks now, then every poll (and at once on a nats:// change). */
  start(): void {
    const { pollMs, from } = this.#settings;
    this.#timer = setInterval(() => void this.check(), pollMs);
    const location = parseLocation(from);
    if (location.kind === 'nats') this.#stopWatch = watchTimestamp(location, `airlock plugins ${this.plan().name}`, () => void this.check());
    void this.check();
  }

  /** One check (a check asked for while one runs follows it). */
  check(): Promise<void> {
    if (this.#checking !== undefined) {
      this.#again = true;
      return this.#checking;
    }
    this.#checking = this.#check().finally(() => {
      this.#checking = undefined;
      if (this.#again && !this.#stopped) {
        this.#again = false;
        void this.check();
      }
    });
    return this.#checking;
  }

  async #check(): Promise<void> {
    const { from, trust, channel: channelName } = this.#settings;
    const service = this.plan().name;
    this.#channel ??= new ReleaseChannel({ from, trust, cacheDir: this.#home });
    let newest: Map<string, Release>;
    try {
      newest = await newestPlugins(this.#channel, service, channelName);
      this.#said.delete('');
    } catch (error) {
      return this.#refuse(undefined, undefined, error);
    }
    // Read once: an install below changes only its own plugin's entry.
    const installedNow = this.installed();
    for (const [name, release] of newest) {
      if (this.#stopped) return;
      const installed = installedNow[name];
      if (installed !== undefined && release.version < installed.version) {
        this.#refuse(name, release.version, new AirlockError('RELEASE_VERSION', `the newest release of plugin ${name} on ${channelName} is ${release.version}, below ${installed.version}, the one installed: an old channel put back (a replay), refused`));
        continue;
      }
      if (installed?.version === release.version && installed.sha256 === release.sha256 && existsSync(join(this.#settings.dir, name, REMOTE_MARKER))) continue;
      const identity = `${release.version}:${release.sha256}`;
      if (this.#refused.get(name) === identity) continue;
      await this.#install(name, release).then(
        () => this.#said.delete(name),
        (error: unknown) => {
          // NATS or the network away is tried again; a release refused for what it is, not.
          if (!(error instanceof AirlockError && error.code === 'NATS_UNREACHABLE')) this.#refused.set(name, identity);
          this.#refuse(name, release.version, error);
        },
      );
    }
  }

  async #install(name: string, release: Release): Promise<void> {
    const { dir, channel, from } = this.#settings;
    const incoming = join(this.plan().dir, '.airlock', 'plugins-incoming');
    mkdirSync(incoming, { recursive: true });
    const nonce = `${process.pid}-${randomBytes(4).toString('hex')}`;
    const file = join(incoming, `${name}-${release.version}.${nonce}.tar.gz`);
    const unpacked = join(incoming, `${name}-${release.version}.${nonce}`);
    try {
      await fetchPlugin(this.#channel as ReleaseChannel, release, file, unpacked);
      writeAtomic(join(unpacked, REMOTE_MARKER), `${JSON.stringify({ plugin: name, version: release.version, sha256: release.sha256, channel, from: parseLocation(from).display })}\n`);
      // Whole or not at all: the old directory moves aside, the new one takes its name.
      mkdirSync(dir, { recursive: true });
      const target = join(dir, name);
      const aside = join(incoming, `${name}.old.${nonce}`);
      if (existsSync(target)) renameSync(target, aside);
      renameSync(unpacked, target);
      syncDir(dir);
      rmSync(aside, { recursive: true, force: true });
      const state = { ...this.installed(), [name]: { version: release.version, sha256: release.sha256 } };
      writeAtomic(join(this.#home, 'state.json'), `${JSON.stringify(state, null, 1)}\n`);
      this.bus.emit({ type: 'plugin.release.applied', service: this.plan().name, plugin: name, channel, version: release.version, sha256: release.sha256 });
    } finally {
      rmSync(file, { force: true });
      rmSync(unpacked, { recursive: true, force: true });
    }
  }

  #refuse(plugin: string | undefined, version: number | undefined, error: unknown): void {
    const code = error instanceof AirlockError ? error.code : 'RELEASE_REFUSED';
    const message = (error as Error).message ?? String(error);
    if (this.#said.get(plugin ?? '') === message) return;
    this.#said.set(plugin ?? '', message);
    this.bus.emit({ type: 'plugin.release.refused', service: this.plan().name, plugin, channel: this.#settings.channel, version, code: fullCode(code), message });
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    this.#stopWatch?.();
    await this.#checking;
  }
}
