import { availableParallelism } from 'node:os';
import { GoGraph } from '../build/go-graph.js';
import { BuildSlots } from '../build/slots.js';
import type { ServicePlan } from '../config/plan.js';
import type { EventBus } from '../events.js';
import { ServiceRunner, type ServiceOptions } from './service.js';

export interface DaemonOptions extends Pick<ServiceOptions, 'watch' | 'clock'> {
  /** Builds at once across services (default: the number of cores). */
  readonly buildConcurrency?: number;
}

/** One graph per Go module, over the mains of the services built from it. */
function goGraphs(plans: readonly ServicePlan[]): Map<string, GoGraph> {
  const mainsByModule = new Map<string, Record<string, string>>();
  for (const plan of plans) {
    if (!plan.go) continue;
    const mains = mainsByModule.get(plan.go.moduleDir) ?? {};
    mains[plan.name] = plan.go.main;
    mainsByModule.set(plan.go.moduleDir, mains);
  }
  return new Map([...mainsByModule].map(([dir, mains]) => [dir, new GoGraph(dir, mains)]));
}

/**
 * The composition root: one pipeline per service, sharing the Go module graphs and the
 * build slots; started in dependsOn order, stopped together.
 *
 * @example
 *   const daemon = new Daemon(plans, bus, { watch: true });
 *   await daemon.start();
 *   process.once('SIGINT', () => void daemon.stop());
 */
export class Daemon {
  readonly services: readonly ServiceRunner[];
  readonly #graphs: Map<string, GoGraph>;

  constructor(
    plans: readonly ServicePlan[],
    private readonly bus: EventBus,
    options: DaemonOptions,
  ) {
    this.#graphs = goGraphs(plans);
    const slots = new BuildSlots(options.buildConcurrency ?? availableParallelism());
    this.services = plans.map(
      (plan) => new ServiceRunner(plan, bus, { ...options, slots, goGraph: plan.go ? this.#graphs.get(plan.go.moduleDir) : undefined }),
    );
  }

  /** Starts every service once the services it depends on are ready; resolves when all have started. */
  async start(): Promise<void> {
    await Promise.all([...this.#graphs.values()].map((graph) => graph.load()));
    const byName = new Map(this.services.map((service) => [service.plan.name, service]));
    await Promise.all(
      this.services.map(async (service) => {
        const dependencies = service.plan.dependsOn.map((name) => byName.get(name)).filter((dep): dep is ServiceRunner => dep !== undefined);
        if (dependencies.length > 0) {
          this.bus.emit({ type: 'service.waiting', service: service.plan.name, for: dependencies.map((dep) => dep.plan.name) });
          await Promise.all(dependencies.map((dep) => dep.firstReady));
        }
        await service.start();
      }),
    );
  }

  /** Rebuild and swap the named services (all when none are named). */
  reload(names: readonly string[] = []): void {
    for (const service of this.services) {
      if (names.length === 0 || names.includes(service.plan.name)) service.reload(['reload requested']);
    }
  }

  /** Graceful: each service's stop signal, grace period, then SIGKILL of what is left. */
  async stop(): Promise<void> {
    await Promise.all(this.services.map((service) => service.stop()));
  }

  /** Immediate SIGKILL of every process group and known descendant. */
  killNow(): void {
    for (const service of this.services) service.killNow();
  }
}
