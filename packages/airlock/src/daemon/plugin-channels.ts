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
  /** By service: its settings' key, the plan its channel reads (updated in place on edits that keep the key), the channel. */
  readonly #running = new Map<string, { key: string; current: { plan: ServicePlan }; channel: PluginChannel }>();

  constructor(private readonly bus: EventBus) {}

  sync(plans: readonly ServicePlan[]): void {
    const wanted = new Map(plans.filter((plan) => plan.plugins?.release !== undefined && plan.plugins.dir !== undefined).map((plan) => [plan.name, plan]));
    for (const [name, running] of this.#running) {
      const plan = wanted.get(name);
      if (plan !== undefined && this.#key(plan) === running.key) {
        running.current.plan = plan;
        continue;
      }
      void running.channel.stop();
      this.#running.delete(name);
    }
    for (const [name, plan] of wanted) {
      if (this.#running.has(name)) continue;
      const current = { plan };
      const channel = new PluginChannel(() => current.plan, this.bus);
      this.#running.set(name, { key: this.#key(plan), current, channel });
      channel.start();
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
