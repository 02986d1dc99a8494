import type { ServicePlan } from '../config/plan.js';
import type { EventBus } from '../events.js';
import { PluginChannel } from '../release/plugin-channel.js';

/**
 * The services' plugin channels (`plugins: { dir, release }`), one per service that has
 * one, kept in step with airlock.yaml: a service that gains one starts it, one whose
 * settings changed starts a new one, one that lost it (or left) stops it.
 *
 * @example
 *   const channels = new PluginChannels(bus);
 *   channels.sync(plans);
 *   await channels.close();
 */
export class PluginChannels {
  readonly #running = new Map<string, { key: string; plan: ServicePlan; channel: PluginChannel }>();

  constructor(private readonly bus: EventBus) {}

  sync(plans: readonly ServicePlan[]): void {
    const wanted = new Map(plans.filter((plan) => plan.plugins?.release !== undefined && plan.plugins.dir !== undefined).map((plan) => [plan.name, plan]));
    for (const [name, running] of this.#running) {
      const plan = wanted.get(name);
      if (plan !== undefined && this.#key(plan) === running.key) {
        running.plan = plan;
        continue;
      }
      void running.channel.stop();
      this.#running.delete(name);
    }
    for (const [name, plan] of wanted) {
      if (this.#running.has(name)) continue;
      const entry = { key: this.#key(plan), plan, channel: undefined as unknown as PluginChannel };
      entry.channel = new PluginChannel(() => entry.plan, this.bus);
      this.#running.set(name, entry);
      entry.channel.start();
    }
  }

  /** The plugins installed from a service's channel, with their grants (for `airlock status`). */
  status(service: string): ReturnType<PluginChannel['status']> | undefined {
    return this.#running.get(service)?.channel.status();
  }

  #key(plan: ServicePlan): string {
    return JSON.stringify([plan.plugins?.dir, plan.plugins?.release]);
  }

  async close(): Promise<void> {
    await Promise.all([...this.#running.values()].map((running) => running.channel.stop()));
    this.#running.clear();
  }
}
