import { availableParallelism } from 'node:os';
import { GoGraph } from '../build/go-graph.js';
import { BuildSlots } from '../build/slots.js';
import type { ServicePlan } from '../config/plan.js';
import type { EventBus } from '../events.js';
import type { Clock } from '../watch/debounce.js';
import { ChangeDetector, moduleScope } from './changes.js';
import { SavedFileWatcher } from './saved-files.js';
import { compileSchema, readSnapshot, writeSnapshot } from './app-config.js';
import { basename } from 'node:path';
import { fullCode } from '../errors.js';
import { ServiceRunner, type ServiceStatus } from './service.js';

export interface DaemonOptions {
  /** Watch files and reload on change (`airlock dev`); false for `airlock run`. */
  readonly watch: boolean;
  readonly clock?: Clock;
  /** Builds at once across services (default: the number of cores). */
  readonly buildConcurrency?: number;
  /** Trace contexts for reloads (set when traces are exported). */
  readonly traceContext?: boolean;
}

/** Go services grouped by module: they share one graph and one change detector. */
function byModule(plans: readonly ServicePlan[]): Map<string, ServicePlan[]> {
  const groups = new Map<string, ServicePlan[]>();
  for (const plan of plans) if (plan.go) groups.set(plan.go.moduleDir, [...(groups.get(plan.go.moduleDir) ?? []), plan]);
  return groups;
}

/**
 * The composition root: one pipeline per service; change detection per service, or one
 * per Go module shared by its services (watched, hashed and mapped through the module
 * graph once); shared build slots; started in dependsOn order, stopped together.
 *
 * @example
 *   const daemon = new Daemon(plans, bus, { watch: true });
 *   await daemon.start();
 *   process.once('SIGINT', () => void daemon.stop());
 */
export class Daemon {
  readonly services: readonly ServiceRunner[];
  readonly #graphs: GoGraph[] = [];
  readonly #detectors: ChangeDetector[] = [];
  readonly #envFiles: SavedFileWatcher[] = [];
  readonly #waitingForConfig = new Map<ServiceRunner, () => void>();

  constructor(
    plans: readonly ServicePlan[],
    private readonly bus: EventBus,
    private readonly options: DaemonOptions,
  ) {
    const slots = new BuildSlots(options.buildConcurrency ?? availableParallelism());
    this.services = plans.map((plan) => new ServiceRunner(plan, bus, { slots, traceContext: options.traceContext }));
    const byName = new Map(this.services.map((service) => [service.plan.name, service]));
    const reload = (service: string, paths: string[], firstAt: number) => byName.get(service)?.reload(paths, firstAt);
    const clock = options.clock;
    for (const [moduleDir, group] of byModule(plans)) {
      const graph = new GoGraph(moduleDir, Object.fromEntries(group.map((plan) => [plan.name, plan.go?.main as string])));
      this.#graphs.push(graph);
      this.#detectors.push(new ChangeDetector(moduleScope(group), bus, { clock, goGraph: graph }, reload));
    }
    for (const service of this.services) {
      if (service.plan.run.envFiles.length > 0) {
        this.#envFiles.push(new SavedFileWatcher(service.plan.run.envFiles, (file) => service.restartWithNewEnvironment(`${file} changed`)));
      }
      const appConfig = service.plan.appConfig;
      if (appConfig) {
        const files = [...appConfig.files, ...(appConfig.schema ? [appConfig.schema] : [])];
        this.#envFiles.push(new SavedFileWatcher(files, (file) => void this.#checkConfig(service, file)));
      }
    }
    for (const plan of plans.filter((p) => !p.go)) {
      this.#detectors.push(new ChangeDetector({ services: [plan.name], watch: plan.watch }, bus, { clock }, reload));
    }
  }

  /** Starts watching, then every service once the services it depends on are ready. */
  async start(): Promise<void> {
    await Promise.all(this.#graphs.map((graph) => graph.load()));
    if (this.options.watch) {
      await Promise.all(this.#detectors.map((detector) => detector.start()));
      await Promise.all(this.#envFiles.map((watcher) => watcher.start()));
    }
    const byName = new Map(this.services.map((service) => [service.plan.name, service]));
    await Promise.all(
      this.services.map(async (service) => {
        const dependencies = service.plan.dependsOn.map((name) => byName.get(name)).filter((dep): dep is ServiceRunner => dep !== undefined);
        if (service.plan.appConfig && !(await this.#checkConfig(service, undefined))) {
          // A bad config never reaches a generation: the service starts once it is fixed.
          await new Promise<void>((resolve) => this.#waitingForConfig.set(service, resolve));
        }
        if (dependencies.length > 0) {
          this.bus.emit({ type: 'service.waiting', service: service.plan.name, for: dependencies.map((dep) => dep.plan.name) });
          await Promise.all(dependencies.map((dep) => dep.firstReady));
        }
        await service.start();
      }),
    );
  }

  /**
   * Reads and validates a service's app config; a valid change swaps to a generation that
   * starts with it, an invalid one is reported and changes nothing. Returns whether valid.
   */
  async #checkConfig(service: ServiceRunner, changed: string | undefined): Promise<boolean> {
    const appConfig = service.plan.appConfig;
    if (!appConfig) return true;
    const name = service.plan.name;
    let validate;
    try {
      validate = appConfig.schema ? await compileSchema(appConfig.schema) : undefined;
    } catch (error) {
      const file = appConfig.schema as string;
      service.configRejected = `${basename(file)}: ${(error as Error).message}`;
      this.bus.emit({ type: 'config.rejected', service: name, code: fullCode('CONFIG_REJECTED'), file: basename(file), line: undefined, col: undefined, message: `not a valid JSON Schema: ${(error as Error).message}` });
      return false;
    }
    const snapshot = await readSnapshot(appConfig.files, validate);
    if (!snapshot.ok) {
      const { file, position, message } = snapshot.rejection;
      service.configRejected = `${basename(file)}${position ? `:${position.line}:${position.col}` : ''}: ${message}`;
      this.bus.emit({ type: 'config.rejected', service: name, code: fullCode('CONFIG_REJECTED'), file: basename(file), line: position?.line, col: position?.col, message });
      return false;
    }
    service.configRejected = undefined;
    await writeSnapshot(appConfig.snapshot, snapshot.value);
    if (changed === undefined) return true;
    this.bus.emit({ type: 'config.accepted', service: name, file: changed });
    const waiting = this.#waitingForConfig.get(service);
    if (waiting) {
      this.#waitingForConfig.delete(service);
      waiting();
    } else if (appConfig.deliver === 'signal') service.signalCurrent(appConfig.signal);
    else service.restartWithNewEnvironment(`${changed} changed`);
    return true;
  }

  status(): ServiceStatus[] {
    return this.services.map((service) => service.status());
  }

  /** Rebuild and swap the named services (all when none are named). */
  reload(names: readonly string[] = []): void {
    for (const service of this.services) {
      if (names.length === 0 || names.includes(service.plan.name)) service.reload(['reload requested']);
    }
  }

  /** Graceful: stop watching, then each service's stop signal, grace period, SIGKILL of what is left. */
  async stop(): Promise<void> {
    for (const watcher of this.#envFiles) watcher.stop();
    await Promise.all(this.#detectors.map((detector) => detector.stop().catch(() => undefined)));
    await Promise.all(this.services.map((service) => service.stop()));
  }

  /** Immediate SIGKILL of every process group and known descendant. */
  killNow(): void {
    for (const service of this.services) service.killNow();
  }
}
