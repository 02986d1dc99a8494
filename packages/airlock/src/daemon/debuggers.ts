import { isDeepStrictEqual } from 'node:util';
import type { ServicePlan } from '../config/plan.js';
import { ServiceDebugger } from '../debug/service-debugger.js';
import type { EventBus } from '../events.js';

/**
 * The debuggers of the services that ask for one (debug: in airlock.yaml), kept per
 * service name rather than per runner: a runner made anew (an edit of the address) keeps
 * the stable debug address, and an edit of debug: reopens it without restarting more.
 *
 * @example
 *   const debuggers = new Debuggers(bus);
 *   new ServiceRunner(plan, bus, { spawnHooks: [debuggers.hook(plan.name)] });
 *   await debuggers.sync(plans); // opens 127.0.0.1:2345 for a service with debug: { delve: true }
 */
export class Debuggers {
  readonly #open = new Map<string, ServiceDebugger>();

  constructor(private readonly bus: EventBus) {}

  /** A service's spawn hook: the debugger it has when a generation starts, if any. */
  hook(service: string): ServiceDebugger['hook'] {
    return (spawn, context) => this.#open.get(service)?.hook(spawn, context) ?? spawn;
  }

  /** Opens what the plans ask for and closes the rest; throws (DEBUG_SETUP) when one cannot open. */
  async sync(plans: readonly ServicePlan[]): Promise<void> {
    const wanted = new Map(plans.filter((plan) => plan.debug !== undefined).map((plan) => [plan.name, plan]));
    for (const [name, open] of [...this.#open]) {
      if (isDeepStrictEqual(wanted.get(name)?.debug, open.plan)) continue;
      this.#open.delete(name);
      await open.close();
    }
    for (const [name, plan] of wanted) if (!this.#open.has(name)) this.#open.set(name, await ServiceDebugger.open(plan, this.bus));
  }

  async close(): Promise<void> {
    await Promise.all([...this.#open.values()].map((open) => open.close()));
    this.#open.clear();
  }
}
