import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { goPackageHashes, pluginMismatch } from '../build/elf-hashes.js';
import { runBuild } from '../build/runner.js';
import type { BuildSlots } from '../build/slots.js';
import { generationEnv, goPluginsDir } from '../config/environment.js';
import { escapeRegExp } from '../config/literal.js';
import type { ServicePlan } from '../config/plan.js';
import { fullCode } from '../errors.js';
import { internalError, type EventBus } from '../events.js';
import { describeEnd } from '../supervise/process-end.js';
import { Debouncer } from '../watch/debounce.js';
import { watcherFor } from '../watch/factory.js';
import type { WatchHandle } from '../watch/watcher.js';
import { PluginBuildRecord } from './plugin-builds.js';

/** Builds of one plugin kept on disk: an app that opened an older one keeps it mapped anyway. */
const KEEP_BUILDS = 5;

/** A generation serving now, whose binary a plugin build must fit. */
export interface PluginHostBinary {
  readonly n: number;
  readonly artifact: string | undefined;
}

/**
 * A Go service's plugins (`plugins: { go: [./plugins/greet] }`): each package is built with
 * `-buildmode=plugin` when its files change and whenever the service gets a new generation
 * (a rebuilt host needs plugins built against it), to `<name>.<n>.so`. Go refuses a second
 * plugin with the same plugin path, which is the package's import path, so each build
 * compiles the package under an import path of its own: a virtual directory
 * (`airlock_plugin_<service>_<n>/<name>`) that only exists in a `go build -overlay` map,
 * so nothing is written into the project. A build appears under its `.so` name only once
 * airlock has checked it against the binary of every generation serving (the package
 * hashes plugin.Open compares, read from both ELF files): one that fits none of them is
 * removed with AIRLOCK_ERR_PLUGIN_MISMATCH, so it never reaches the app, where a failed
 * plugin.Open would poison the process. The app's loader (go/airlock/plugins) checks
 * again before it opens, for apps run without airlock. The service itself is not
 * restarted for a plugin edit.
 *
 * @example
 *   const plugins = new GoPluginBuilds(plan, bus, slots, () => [{ n: 3, artifact: 'bin/app.g3' }]);
 *   await plugins.start(true);
 *   plugins.rebuildAll('g4 is the new host');
 */
export class GoPluginBuilds {
  readonly #n = new Map<string, number>();
  /** The builds this run wrote: the only ones it prunes (a stray file in the directory is not its to delete). */
  readonly #record = new PluginBuildRecord(KEEP_BUILDS);
  readonly #running = new Map<string, AbortController>();
  readonly #watchers: WatchHandle[] = [];
  #stopped = false;
  #startedBefore = false;

  constructor(
    private readonly plan: () => ServicePlan,
    private readonly bus: EventBus,
    private readonly slots: BuildSlots | undefined,
    private readonly hosts: () => readonly PluginHostBinary[],
  ) {}

  /** The plugin packages, as directories (absolute). */
  #packages(): string[] {
    const plan = this.plan();
    return (plan.plugins?.go ?? []).map((pkg) => join(plan.dir, pkg));
  }

  /** Watches every plugin package (airlock dev); builds come with each new host (rebuildAll) and each change. Again after stop(), for new settings. */
  async start(watch: boolean): Promise<void> {
    // Builds of an earlier airlock run were made for an earlier host process: never the
    // newest now. Within one run they stay (the app may have one open), and the build
    // numbers go on: a plugin path the app has loaded must never come again.
    const out = goPluginsDir(this.plan());
    if (out !== undefined && !this.#startedBefore) this.#clearEarlierRuns(out);
    this.#startedBefore = true;
    this.#stopped = false;
    for (const dir of this.#packages()) {
      if (watch) {
        const debouncer = new Debouncer<string>(this.plan().watch.debounceMs, () => this.#build(dir, 'changed'));
        const handle = await watcherFor(this.plan().watch)(
          dir,
          (events) => {
            const sources = events.filter((e) => e.path.endsWith('.go') && !e.path.endsWith('_test.go')).map((e) => e.path);
            if (sources.length > 0) debouncer.add(sources);
          },
          (error) => this.bus.emit({ type: 'error', service: this.plan().name, code: fullCode(error.code), message: error.message }),
        );
        this.#watchers.push(handle);
      }
    }
  }

  /** Every plugin again (a new host generation: builds made against the old one may not fit it). */
  rebuildAll(reason: string): void {
    for (const dir of this.#packages()) this.#build(dir, reason);
  }

  #build(dir: string, reason: string): void {
    this.#run(dir, reason).catch((error: unknown) => this.bus.emit(internalError(this.plan().name, 'building a plugin', error)));
  }

  async #run(dir: string, reason: string): Promise<void> {
    if (this.#stopped) return;
    const plan = this.plan();
    const out = goPluginsDir(plan);
    if (out === undefined || plan.go === undefined) return;
    const name = basename(dir);
    // A newer change of the same plugin supersedes the build under way.
    this.#running.get(dir)?.abort();
    const controller = new AbortController();
    this.#running.set(dir, controller);
    const release = await (this.slots?.acquire(controller.signal) ?? (() => undefined));
    if (release === undefined) return;
    try {
      const n = (this.#n.get(dir) ?? 0) + 1;
      this.#n.set(dir, n);
      mkdirSync(out, { recursive: true });
      const path = join(out, `${name}.${n}.so`);
      // Not under its .so name until it is checked: the app's loader only lists *.so.
      const building = `${path}.building`;
      const virtual = join(plan.go.moduleDir, `airlock_plugin_${plan.name.replace(/-/g, '_')}_${n}`, name);
      const overlay = join(out, `${name}.${n}.overlay.json`);
      const files = readdirSync(dir).filter((file) => file.endsWith('.go') && !file.endsWith('_test.go'));
      writeFileSync(overlay, JSON.stringify({ Replace: Object.fromEntries(files.map((file) => [join(virtual, file), join(dir, file)])) }));
      this.#record.wrote(name, n);
      const quote = (text: string) => `'${text.replace(/'/g, "'\\''")}'`;
      const cmd = `go build -overlay ${quote(overlay)} -buildmode=plugin -o ${quote(building)} ${quote(`./${relative(plan.go.moduleDir, virtual)}`)}`;
      const service = plan.name;
      this.bus.emit({ type: 'plugin.build.started', service, plugin: name, build: n, reason, cmd });
      const outcome = await runBuild({
        cmd,
        cwd: plan.go.moduleDir,
        env: generationEnv(plan, 0, {}),
        timeoutMs: plan.build?.timeoutMs ?? 300_000,
        signal: controller.signal,
        onLine: (stream, line) => this.bus.emit({ type: 'build.output', service, generation: 0, stream, line: `[plugin ${name}] ${line}` }),
      });
      if (outcome.kind === 'ok') {
        const { fits, refused } = await this.#check(building);
        if (fits.length === 0 && refused.length > 0) {
          rmSync(building, { force: true });
          const message = `plugin ${name} build ${n} does not fit ${refused.join('; nor ')}; removed before the app could open it, the app keeps the build it has`;
          this.bus.emit({ type: 'plugin.build.failed', service, plugin: name, build: n, code: fullCode('PLUGIN_MISMATCH'), message });
          return;
        }
        renameSync(building, path);
        this.bus.emit({ type: 'plugin.built', service, plugin: name, build: n, path, ms: outcome.ms, fits });
        this.#record.prune(out, name);
      } else if (outcome.kind === 'cancelled') {
        // Said, so that a build that started is always seen to end (a save may arrive as two changes).
        this.bus.emit({ type: 'plugin.build.cancelled', service, plugin: name, build: n, reason: this.#stopped ? 'airlock is stopping' : 'a newer change' });
      } else {
        const why = outcome.kind === 'timeout' ? 'did not finish in time' : `${describeEnd(outcome.end)}${outcome.locations.length ? ` at ${outcome.locations.join(', ')}` : ''}`;
        const message = `plugin ${name} build ${n} ${why}; the app keeps the build it has`;
        this.bus.emit({ type: 'plugin.build.failed', service, plugin: name, build: n, code: fullCode('BUILD_FAILED'), message });
      }
    } finally {
      release();
      if (this.#running.get(dir) === controller) this.#running.delete(dir);
    }
  }

  /** Which serving generations a build would open in (g3, …), and why each other one would refuse it. */
  async #check(plugin: string): Promise<{ fits: string[]; refused: string[] }> {
    const fits: string[] = [];
    const refused: string[] = [];
    const hashes = await goPackageHashes(plugin);
    for (const host of this.hosts()) {
      if (host.artifact === undefined) continue;
      const why = await this.#hostHashes(host.artifact).then(
        (own) => pluginMismatch(own, hashes),
        (error: Error) => `its binary cannot be read: ${error.message}`,
      );
      if (why === undefined) fits.push(`g${host.n}`);
      else refused.push(`g${host.n} (${basename(host.artifact)}): ${why}`);
    }
    return { fits, refused };
  }

  /** A generation's binary never changes under its name (ArtifactStore), so its hashes are read once. */
  readonly #hostCache = new Map<string, Promise<Map<string, string>>>();
  #hostHashes(artifact: string): Promise<Map<string, string>> {
    let hashes = this.#hostCache.get(artifact);
    if (hashes === undefined) {
      hashes = goPackageHashes(artifact);
      this.#hostCache.set(artifact, hashes);
      // Only the binaries serving now are asked for: the cache never outgrows a handful.
      const serving = new Set(this.hosts().map((host) => host.artifact));
      for (const path of this.#hostCache.keys()) if (!serving.has(path)) this.#hostCache.delete(path);
    }
    return hashes;
  }

  /** Builds an earlier run left (named as airlock names them); any other file stays. */
  #clearEarlierRuns(out: string): void {
    const names = this.#packages().map((dir) => escapeRegExp(basename(dir)));
    if (names.length === 0 || !existsSync(out)) return;
    const ours = new RegExp(`^(?:${names.join('|')})\\.\\d+\\.(?:so|so\\.building|overlay\\.json)$`);
    for (const file of readdirSync(out)) if (ours.test(file)) rmSync(join(out, file), { force: true });
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    for (const controller of this.#running.values()) controller.abort();
    await Promise.all(this.#watchers.splice(0).map((w) => w.close()));
  }
}
