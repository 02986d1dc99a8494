import { availableParallelism } from 'node:os';
import { BuildSlots } from '../build/slots.js';
import type { ServicePlan } from '../config/plan.js';
import { internalError, type EventBus } from '../events.js';
import type { Clock } from '../clock.js';
import { AppConfigGate } from '../live-config/app-config-gate.js';
import { Detectors } from '../detect/detectors.js';
import type { SourceChange } from '../detect/changes.js';
import { classifyChange, type Applied, type PlanChange } from '../live-config/plan-change.js';
import type { SourceFactory } from '../pipeline/artifact-source.js';
import type { RolloutAction } from '../pipeline/canary-release.js';
import { SavedFileWatcher } from '../detect/saved-files.js';
import { ServiceRunner, type ServiceStatus } from '../pipeline/runner.js';
import { sourceFor } from './sources.js';
import { PluginChannels } from './plugin-channels.js';
import { reshape, type ReshapeContext } from './reshape.js';
import { Debuggers } from './debuggers.js';
import { LiveReload } from '../browser/live-reload.js';
import { GenerationRecords, type Comparison } from '../observe/generation-records.js';
import { AirlockError, fullCode } from '../errors.js';

export interface DaemonOptions {
  /** Watch files and reload on change (`airlock dev`); false for `airlock run`. */
  readonly watch: boolean;
  readonly clock?: Clock;
  /** Builds at once across services (default: the number of cores). */
  readonly buildConcurrency?: number;
  /** Trace contexts for reloads (set when traces are exported). */
  readonly traceContext?: boolean;
  /** airlock.yaml: its edits are applied by `apply`, never taken for a source change. */
  readonly configFile?: string;
  /** Files airlock's own output goes to (`airlock dev > log`): writing them is no change. */
  readonly ownOutput?: readonly string[];
  /** The control socket (an app's plugin host subscribes to plugin.changed there). */
  readonly controlSocket?: string;
  /** Where each service's new artifacts come from (default: its release channel when it has `release:`, else its builds in the shared build slots). */
  readonly source?: SourceFactory;
  /** This machine's id in a fleet (`airlock agent --host`; default its hostname). */
  readonly host?: string;
}

export type { Applied };

/** A service's app config files and schema: what its config watcher reads. */
function appConfigInputs(plan: ServicePlan): string[] {
  const app = plan.appConfig;
  return app ? [...app.files, ...(app.schema ? [app.schema] : [])] : [];
}

/** A service as `airlock status` reports it, with what the daemon knows beside its runner. */
export type DaemonStatus = ServiceStatus & {
  /** The serving generation beside the one before it (`--compare`, the dashboard). */
  readonly compare?: Comparison;
  /** Plugins installed from its plugin channel (plugins.release): version, digest, what they may do. */
  readonly remotePlugins?: readonly { readonly name: string; readonly version: number; readonly sha256: string; readonly grants: string }[];
};

interface Running {
  readonly runner: ServiceRunner;
  /** Its env files and app config files: watched for saves. */
  watchers: SavedFileWatcher[];
}

/**
 * The composition root: one pipeline per service; change detection per service, or one
 * per Go module shared by its services (watched, hashed and mapped through the module
 * graph once); shared build slots; started in dependsOn order, stopped together; an
 * edited airlock.yaml applied to the services it changes (`apply`).
 *
 * @example
 *   const daemon = new Daemon(plans, bus, { watch: true });
 *   await daemon.start();
 *   process.once('SIGINT', () => void daemon.stop());
 */
export class Daemon {
  readonly #services = new Map<string, Running>();
  readonly #detectors: Detectors;
  readonly #appConfig: AppConfigGate;
  readonly #slots: BuildSlots;
  /** The stable debug addresses of the services with debug: (their generations' spawn hook). */
  readonly #debuggers: Debuggers;
  /** Plugins from signed channels (plugins.release), installed into each service's plugin directory. */
  readonly #pluginChannels: PluginChannels;
  /** Browser live reload per service (proxy.liveReload under airlock dev), kept by name across runners. */
  readonly #liveReloads = new Map<string, LiveReload>();
  /** Each service's serving generation beside the one before it (status --compare, the dashboard). */
  readonly #records: GenerationRecords;
  readonly #unsubscribe: () => void;
  /** Per service, the last reload that failed, until one is ready. */
  readonly #lastFailure = new Map<string, string>();
  #watching = false;
  #stopped = false;

  constructor(
    plans: readonly ServicePlan[],
    private readonly bus: EventBus,
    private readonly options: DaemonOptions,
  ) {
    this.#slots = new BuildSlots(options.buildConcurrency ?? availableParallelism());
    this.#detectors = new Detectors(bus, { clock: options.clock, ignore: (path) => this.#appliedNotBuilt(path) });
    this.#appConfig = new AppConfigGate(bus);
    this.#debuggers = new Debuggers(bus);
    this.#pluginChannels = new PluginChannels(bus);
    this.#records = new GenerationRecords(bus);
    for (const plan of plans) this.#services.set(plan.name, { runner: this.#runner(plan), watchers: [] });
    this.#unsubscribe = bus.subscribe((event) => {
      if (event.type === 'reload.ready') {
        this.#lastFailure.delete(event.service);
        this.#restartDependents(event.service, event.generation);
      }
      // What status shows beside the generation that keeps serving.
      if (event.type === 'build.failed') this.#lastFailure.set(event.service, `g${event.generation} ${event.message} [${event.code}]`);
      if (event.type === 'reload.failed') this.#lastFailure.set(event.service, `${event.message} [${event.code}]`);
      if (event.type === 'release.refused' || event.type === 'release.rolled_back') this.#lastFailure.set(event.service, `${event.type === 'release.refused' ? event.message : `release ${event.version}: ${event.reason}`} [${event.code}]`);
      if (event.type === 'release.applied') this.#lastFailure.delete(event.service);
    }, 'the daemon');
  }

  /**
   * A dependency has a new generation: the services that asked for it (restartWith)
   * start a new generation of their own build. Those not started yet start later anyway.
   */
  #restartDependents(service: string, generation: number): void {
    for (const runner of this.services) {
      if (runner.plan.restartWith.includes(service)) runner.restartSameBuild(`${service} g${generation} is ready`);
    }
  }

  get services(): readonly ServiceRunner[] {
    return [...this.#services.values()].map((running) => running.runner);
  }

  /** Runners that left their place and are stopping (a reshape keeps the old one until the new serves). */
  readonly #retiring = new Set<ServiceRunner>();

  /** Stops a runner that no longer holds its service's place, with its watchers; daemon.stop waits for it too. */
  async #retire(runner: ServiceRunner): Promise<void> {
    const running = [...this.#services.values()].find((entry) => entry.runner === runner);
    for (const watcher of running?.watchers ?? []) watcher.stop();
    this.#appConfig.forget(runner);
    this.#retiring.add(runner);
    try {
      // Leaving before its successor was ready: the version it was to replace goes with it.
      await Promise.all([runner.stop(), this.#retirePredecessor(runner)]);
    } finally {
      this.#retiring.delete(runner);
    }
  }

  /** A reshaped service's old runner, serving until its successor is ready. */
  readonly #predecessors = new Map<ServiceRunner, ServiceRunner>();

  /** What reshape.ts needs of the daemon. */
  get #reshaping(): ReshapeContext {
    return {
      bus: this.bus,
      runner: (plan, from) => this.#runner(plan, from),
      install: (runner) => {
        const before = this.#services.get(runner.plan.name);
        for (const watcher of before?.watchers ?? []) watcher.stop();
        this.#services.set(runner.plan.name, { runner, watchers: [] });
      },
      holds: (runner) => this.#services.get(runner.plan.name)?.runner === runner,
      retire: (runner) => this.#retire(runner),
      start: (runner) => {
        if (this.#stopped) return;
        const starting = this.#watchSaves(this.#services.get(runner.plan.name) as Running).then(() => this.#startService(runner));
        void starting.catch((error: unknown) => this.bus.emit(internalError(runner.plan.name, 'starting the service', error)));
      },
      handOver: (fresh, old) => {
        this.#predecessors.set(fresh, old);
        this.#retiring.add(old);
        void fresh.firstReady.then(() => this.#retirePredecessor(fresh));
      },
    };
  }

  async #retirePredecessor(runner: ServiceRunner): Promise<void> {
    const old = this.#predecessors.get(runner);
    if (old === undefined) return;
    this.#predecessors.delete(runner);
    await this.#retire(old);
  }

  /** A service's runner; `generationsFrom`: the newest generation of the one it replaces. */
  #runner(plan: ServicePlan, generationsFrom?: number): ServiceRunner {
    const { traceContext, watch, controlSocket } = this.options;
    const source = this.options.source ?? sourceFor(this.#slots, this.options.host);
    const spawnHooks = [this.#debuggers.hook(plan.name)];
    const proxy = plan.proxy.liveReload && watch ? this.#liveReload(plan.name).extensions : undefined;
    return new ServiceRunner(plan, this.bus, { slots: this.#slots, traceContext, dev: watch, controlSocket, source, generationsFrom, spawnHooks, proxy });
  }

  #liveReload(service: string): LiveReload {
    let live = this.#liveReloads.get(service);
    if (live === undefined) {
      live = new LiveReload(service, this.bus);
      this.#liveReloads.set(service, live);
    }
    return live;
  }

  /** Starts watching, then every service once the services it depends on are ready. */
  async start(): Promise<void> {
    await this.watch();
    await this.startServices();
  }

  /** Loads Go module graphs and starts the file watchers (with `watch: false`, only the graphs). */
  async watch(): Promise<void> {
    this.#watching = this.options.watch;
    await this.#syncDetectors();
    await Promise.all([...this.#services.values()].map((running) => this.#watchSaves(running)));
  }

  /** Starts every service once the services it depends on are ready (which may take long). */
  async startServices(): Promise<void> {
    // Before the first generation: its debugger must be reachable, and a taken address stops airlock here.
    await this.#debuggers.sync(this.services.map((runner) => runner.plan));
    this.#pluginChannels.sync(this.services.map((runner) => runner.plan));
    await Promise.all(this.services.map((runner) => this.#startService(runner)));
  }

  async #startService(runner: ServiceRunner): Promise<void> {
    const dependencies = runner.plan.dependsOn
      .map((name) => this.#services.get(name)?.runner)
      .filter((dep): dep is ServiceRunner => dep !== undefined);
    // A bad config never reaches a generation: the service starts once it is fixed.
    if (runner.plan.appConfig && !(await this.#appConfig.check(runner, undefined))) await this.#appConfig.untilValid(runner);
    if (dependencies.length > 0) {
      this.bus.emit({ type: 'service.waiting', service: runner.plan.name, for: dependencies.map((dep) => dep.plan.name) });
      await Promise.all(dependencies.map((dep) => dep.firstReady));
    }
    await runner.start();
  }

  /** Creates the detectors the services need now and stops the ones no longer needed (new ones first: no gap). */
  async #syncDetectors(): Promise<void> {
    const reload = (service: string, change: SourceChange) => this.#services.get(service)?.runner.changed(change);
    await this.#detectors.sync(this.services.map((runner) => runner.plan), reload, this.#watching);
  }

  /** airlock.yaml, env files, app config files and schemas: applied by airlock, never a reason to rebuild. */
  #appliedNotBuilt(path: string): boolean {
    if (path === this.options.configFile || this.options.ownOutput?.includes(path)) return true;
    return this.services.some(({ plan }) => plan.run.envFiles.includes(path) || appConfigInputs(plan).includes(path));
  }

  /** Watches a service's env files and app config files (its old watchers, if any, stop). */
  async #watchSaves(running: Running): Promise<void> {
    for (const watcher of running.watchers) watcher.stop();
    running.watchers = [];
    const runner = running.runner;
    const plan = runner.plan;
    if (plan.run.envFiles.length > 0) {
      running.watchers.push(new SavedFileWatcher(plan.run.envFiles, (file) => runner.restartSameBuild(`${file} changed`), plan.watch));
    }
    if (plan.appConfig) {
      running.watchers.push(new SavedFileWatcher(appConfigInputs(plan), (file) => this.#appConfig.checkReported(runner, file), plan.watch));
    }
    if (this.#watching) await Promise.all(running.watchers.map((watcher) => watcher.start()));
  }

  /**
   * Applies an edited airlock.yaml: removed services stop; a service whose address or
   * handoff changed stops and starts again; one whose build changed rebuilds and swaps;
   * one whose run settings changed swaps to a generation of the same build; one whose
   * watch, stop or dependsOn changed keeps running; added services start. Services the
   * edit does not touch keep their processes, detectors and hashes.
   *
   * @example
   *   const applied = await daemon.apply(await planServices(edited.config, baseDir));
   *   // { added: ['worker'], removed: [], changed: [{ service: 'api', change: 'rebuild' }] }
   */
  async apply(plans: readonly ServicePlan[], buildConcurrency?: number): Promise<Applied> {
    if (this.#stopped) return { added: [], removed: [], changed: [] };
    this.#slots.resize(buildConcurrency ?? availableParallelism());
    const next = new Map(plans.map((plan) => [plan.name, plan]));
    const removed = [...this.#services.keys()].filter((name) => !next.has(name));
    const added = plans.filter((plan) => !this.#services.has(plan.name)).map((plan) => plan.name);
    const changed: { service: string; change: Exclude<PlanChange, 'same'> }[] = [];
    for (const plan of plans) {
      const running = this.#services.get(plan.name);
      const change = running ? classifyChange(running.runner.plan, plan) : 'same';
      if (change !== 'same') changed.push({ service: plan.name, change });
    }
    const replaced = changed.filter((c) => c.change === 'replace').map((c) => c.service);

    // Gone first, so an added or replaced service can take the address a removed one held.
    const leaving = removed.map((name) => this.#services.get(name) as Running);
    for (const running of leaving) for (const watcher of running.watchers) watcher.stop();
    for (const name of removed) this.#services.delete(name);
    await Promise.all(leaving.map((running) => this.#retire(running.runner)));
    // A new address or handoff: never a moment without a working version (reshape.ts).
    await Promise.all(replaced.map((name) => reshape(this.#reshaping, (this.#services.get(name) as Running).runner, next.get(name) as ServicePlan)));

    const starting: ServiceRunner[] = [];
    for (const name of added) {
      const runner = this.#runner(next.get(name) as ServicePlan);
      this.#services.set(name, { runner, watchers: [] });
      starting.push(runner);
    }
    for (const { service } of changed.filter((c) => c.change !== 'replace')) {
      await (this.#services.get(service) as Running).runner.update(next.get(service) as ServicePlan);
    }
    await this.#syncDetectors();
    // A debugger that cannot open is said; the service goes on without it.
    await this.#debuggers.sync(plans).catch((error: unknown) => this.bus.emit({ type: 'error', service: 'airlock', code: fullCode((error as AirlockError).code ?? 'DEBUG_SETUP'), message: (error as Error).message }));
    this.#pluginChannels.sync(plans);
    const touched = [...added, ...changed.map((c) => c.service)];
    await Promise.all(touched.map((name) => this.#watchSaves(this.#services.get(name) as Running)));

    for (const { service, change } of changed) {
      const runner = (this.#services.get(service) as Running).runner;
      if (change === 'update' || change === 'replace') continue;
      // New settings may name new config files: they are checked before a generation sees them.
      if (!(await this.#appConfig.check(runner, undefined))) continue;
      if (change === 'rebuild') runner.reload(['airlock.yaml changed']);
      else runner.restartSameBuild('airlock.yaml changed');
    }
    // Started in the background: an added service may wait on dependsOn or a config fix.
    for (const runner of starting) {
      void this.#startService(runner).catch((error: unknown) =>
        this.bus.emit(internalError(runner.plan.name, 'starting the service', error)),
      );
    }
    return { added, removed, changed };
  }

  status(): DaemonStatus[] {
    return this.services.map((service) => {
      const lastFailure = this.#lastFailure.get(service.plan.name);
      const configRejected = this.#appConfig.rejected(service);
      const compare = this.#records.compare(service.plan.name);
      const remotePlugins = this.#pluginChannels.status(service.plan.name);
      return { ...service.status(), ...(configRejected === undefined ? {} : { configRejected }), ...(lastFailure === undefined ? {} : { lastFailure }), ...(compare ? { compare } : {}), ...(remotePlugins === undefined ? {} : { remotePlugins }) };
    });
  }

  /** Rebuild and swap the named services (all when none are named). */
  reload(names: readonly string[] = []): void {
    for (const service of this.services) {
      if (names.length === 0 || names.includes(service.plan.name)) service.reload(['reload requested']);
    }
  }

  /** Steers a service's rollout in progress; an error text (no such service, no rollout) otherwise. */
  async rollout(name: string, action: RolloutAction): Promise<{ status: 404 | 409; error: string } | undefined> {
    const service = this.services.find((s) => s.plan.name === name);
    if (service === undefined) return { status: 404, error: `no service named ${name}; defined: ${this.services.map((s) => s.plan.name).join(', ')}` };
    const error = await service.rollout(action);
    return error === undefined ? undefined : { status: 409, error };
  }

  /** Graceful: stop watching, then each service's stop signal, grace period, SIGKILL of what is left. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#unsubscribe();
    for (const running of this.#services.values()) for (const watcher of running.watchers) watcher.stop();
    await this.#detectors.stop();
    await Promise.all([...this.services, ...this.#retiring].map((service) => service.stop()));
    await this.#debuggers.close();
    await this.#pluginChannels.close();
    for (const live of this.#liveReloads.values()) live.close();
    this.#records.close();
  }

  /** Immediate SIGKILL of every process group and known descendant. */
  killNow(): void {
    for (const service of [...this.services, ...this.#retiring]) service.killNow();
  }
}
