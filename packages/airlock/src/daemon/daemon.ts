import type { ServicePlan } from '../config/plan.js';
import type { EventBus } from '../events.js';
import { ServiceRunner, type ServiceOptions } from './service.js';

/**
 * The composition root: one pipeline per service, started together, stopped together.
 *
 * @example
 *   const daemon = new Daemon(plans, bus, { watch: true });
 *   await daemon.start();
 *   process.once('SIGINT', () => void daemon.stop());
 */
export class Daemon {
  readonly services: readonly ServiceRunner[];

  constructor(plans: readonly ServicePlan[], bus: EventBus, options: ServiceOptions) {
    this.services = plans.map((plan) => new ServiceRunner(plan, bus, options));
  }

  async start(): Promise<void> {
    await Promise.all(this.services.map((service) => service.start()));
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
