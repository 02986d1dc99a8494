import { basename } from 'node:path';
import { fullCode } from '../errors.js';
import { internalError, type EventBus } from '../events.js';
import { checkAppConfig, describeRejection, writeSnapshot } from './app-config.js';
import type { ServicePlan } from '../config/plan.js';

/** What the gate delivers a valid config to: a service's runner, seen from here. */
export interface ConfigConsumer {
  readonly plan: ServicePlan;
  /** deliver: signal — the generation that takes traffic re-reads its snapshot. */
  signalCurrent(signal: NodeJS.Signals): void;
  /** deliver: restart — a generation of the same build starts with the new snapshot. */
  restartSameBuild(reason: string): void;
}

/**
 * The app config of each service, checked before a generation sees it: a valid change
 * is written as the snapshot and delivered (a new generation, or a signal to the running
 * one); an invalid one is reported with its file:line and changes nothing; a service
 * whose config is invalid at start waits until it is fixed.
 *
 * @example
 *   const gate = new AppConfigGate(bus);
 *   if (!(await gate.check(runner, undefined))) await gate.untilValid(runner);
 */
export class AppConfigGate {
  readonly #waiting = new Map<ConfigConsumer, () => void>();
  /** Per service, its last refused config (file:line: message), until a valid one arrives. */
  readonly #rejected = new Map<ConfigConsumer, string>();

  constructor(private readonly bus: EventBus) {}

  /** Resolves once the service's config was found valid (by a later check). */
  untilValid(service: ConfigConsumer): Promise<void> {
    return new Promise((resolve) => this.#waiting.set(service, resolve));
  }

  /** The service is gone: nobody waits for its config any more. */
  forget(service: ConfigConsumer): void {
    this.#waiting.delete(service);
    this.#rejected.delete(service);
  }

  /** The service's last refused config change, while its last good one is in use. */
  rejected(service: ConfigConsumer): string | undefined {
    return this.#rejected.get(service);
  }

  /** check() for a watcher callback: whatever fails (a full disk writing the snapshot) is said, never left unhandled. */
  checkReported(service: ConfigConsumer, changed: string): void {
    this.check(service, changed).catch((error: unknown) => this.bus.emit(internalError(service.plan.name, `checking ${changed}`, error)));
  }

  /**
   * Reads and validates a service's app config; a valid change swaps to a generation that
   * starts with it (or signals the running one), an invalid one is reported and changes
   * nothing. Returns whether it is valid.
   */
  async check(service: ConfigConsumer, changed: string | undefined): Promise<boolean> {
    const appConfig = service.plan.appConfig;
    if (!appConfig) return true;
    const name = service.plan.name;
    const snapshot = await checkAppConfig(appConfig);
    if (!snapshot.ok) {
      const { file, position, message } = snapshot.rejection;
      this.#rejected.set(service, describeRejection(snapshot.rejection));
      this.bus.emit({ type: 'config.rejected', service: name, code: fullCode('CONFIG_REJECTED'), file: basename(file), line: position?.line, col: position?.col, message });
      return false;
    }
    this.#rejected.delete(service);
    await writeSnapshot(appConfig.snapshot, snapshot.value);
    if (changed === undefined) return true;
    const signal = appConfig.deliver === 'signal' ? appConfig.signal : undefined;
    this.bus.emit({ type: 'config.accepted', service: name, file: changed, deliver: appConfig.deliver, signal });
    const waiting = this.#waiting.get(service);
    if (waiting) {
      this.#waiting.delete(service);
      waiting();
    } else if (appConfig.deliver === 'signal') service.signalCurrent(appConfig.signal);
    else service.restartSameBuild(`${changed} changed`);
    return true;
  }
}
