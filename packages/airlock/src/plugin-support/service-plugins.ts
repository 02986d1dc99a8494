import type { BuildSlots } from '../build/slots.js';
import type { ServicePlan } from '../config/plan.js';
import { AirlockError, fullCode } from '../errors.js';
import type { EventBus } from '../events.js';
import { GoPluginBuilds, type PluginHostBinary } from './go-plugins.js';
import { PluginNotices } from './plugin-notices.js';

/**
 * What a service's `plugins:` key asks of airlock, seen from the service pipeline: Go
 * plugins built (and checked) beside its own builds, and its plugin directory watched for
 * the app's plugin host. The pipeline only starts it, hands its variables to each
 * generation, says when a new host generation is up, and stops it.
 *
 * @example
 *   const plugins = new ServicePlugins(() => plan, bus, slots, () => [current]);
 *   await plugins.start(true, controlSocket);
 *   plugins.env();      // AIRLOCK_PLUGINS_WATCHED, AIRLOCK_CONTROL_SOCKET under airlock dev
 *   plugins.newHost(4); // every Go plugin built again for g4
 */
export class ServicePlugins {
  readonly #go: GoPluginBuilds;
  readonly #notices: PluginNotices;

  constructor(
    private readonly plan: () => ServicePlan,
    private readonly bus: EventBus,
    slots: BuildSlots | undefined,
    hosts: () => readonly PluginHostBinary[],
  ) {
    this.#go = new GoPluginBuilds(plan, bus, slots, hosts);
    this.#notices = new PluginNotices(plan, bus);
  }

  /** `watch`: airlock dev (plugin sources watched); `controlSocket`: where the app's host hears of plugin changes. */
  async start(watch: boolean, controlSocket: string | undefined): Promise<void> {
    await this.#go.start(watch);
    await this.#notices.start(watch, controlSocket);
  }

  /**
   * airlock.yaml changed `plugins:`: the old watching stops, the new settings are watched.
   * A failure (a package removed since validation, say) is reported; the service and the edit go on.
   */
  async restart(watch: boolean, controlSocket: string | undefined): Promise<void> {
    await this.stop()
      .then(() => this.start(watch, controlSocket))
      .catch((error: unknown) =>
      this.bus.emit({ type: 'error', service: this.plan().name, code: fullCode(error instanceof AirlockError ? error.code : 'INTERNAL'), message: `plugins: ${(error as Error).message}` }),
    );
  }

  /** What each generation's environment gets from here. */
  env(): Readonly<Record<string, string>> {
    return this.#notices.env();
  }

  /** Generation n serves now: Go plugins built against the old host may not fit it. */
  newHost(n: number): void {
    this.#go.rebuildAll(`g${n} is the new host`);
  }

  async stop(): Promise<void> {
    await this.#go.stop();
    await this.#notices.stop();
  }
}
