import { readFile, stat } from 'node:fs/promises';
import { isDeepStrictEqual } from 'node:util';
import { checkConfigSize, parseConfigBytes } from '../config/load.js';
import { chooseServices, planService, type ServicePlan } from '../config/plan.js';
import type { Config, ServiceConfig } from '../config/schema.js';
import { asAirlockError, fullCode } from '../errors.js';
import type { EventBus } from '../events.js';
import type { Applied } from './plan-change.js';
import { SavedFileWatcher } from '../detect/saved-files.js';
import { readSettled } from './settled-read.js';

/** What an edit of airlock.yaml is applied to: the running services, seen from here. */
export interface ConfigTarget {
  readonly services: readonly { readonly plan: ServicePlan }[];
  /** Applies the plans of the edited file (Daemon.apply). */
  apply(plans: readonly ServicePlan[], buildConcurrency?: number): Promise<Applied>;
}

/** The name events about airlock.yaml carry in their `service` field (no service can be called that). */
export const CONFIG_FILE_SOURCE = 'airlock.yaml';

/**
 * Watches airlock.yaml while `airlock dev` runs (or, for `airlock run`, reads it on
 * SIGHUP) and applies each valid edit to the services it changes (see Daemon.apply); an
 * edit that does not parse or validate is reported with every problem's line and changes
 * nothing. Edits are applied one at a time, in order.
 *
 * @example
 *   const reloader = new ConfigFileReloader(loaded.file, loaded.baseDir, loaded.config, [], daemon, bus);
 *   await reloader.start();          // airlock dev: every save
 *   await reloader.reloadNow();      // airlock run: on SIGHUP
 */
export class ConfigFileReloader {
  readonly #watcher: SavedFileWatcher;
  #config: Config;
  #queue: Promise<void> = Promise.resolve();
  #rejected: string | undefined;

  constructor(
    private readonly file: string,
    private readonly baseDir: string,
    config: Config,
    /** The services named on the command line (empty: all of them). */
    private readonly only: readonly string[],
    private readonly daemon: ConfigTarget,
    private readonly bus: EventBus,
  ) {
    this.#config = config;
    this.#watcher = new SavedFileWatcher([file], () => void this.reloadNow());
  }

  /** The last edit refused (its problems joined), until a valid one is applied. */
  get rejected(): string | undefined {
    return this.#rejected;
  }

  start(): Promise<void> {
    return this.#watcher.start();
  }

  /**
   * Reads the file now and applies it (`airlock run` on SIGHUP); resolves with what was
   * applied, or undefined when the file was refused.
   */
  reloadNow(): Promise<Applied | undefined> {
    const done = this.#queue.then(() => this.#reload());
    this.#queue = done.then(() => undefined);
    return done;
  }

  /** Stops watching and waits for an edit being applied. */
  async stop(): Promise<void> {
    this.#watcher.stop();
    await this.#queue;
  }

  async #reload(): Promise<Applied | undefined> {
    const read = await this.#read();
    if (read instanceof Error) return this.#reject(read);
    let plans: ServicePlan[];
    try {
      plans = await this.#plan(read);
    } catch (error) {
      return this.#reject(error);
    }
    let applied: Applied;
    try {
      applied = await this.daemon.apply(plans, read.builds?.concurrency);
    } catch (error) {
      // `go list` failing for a new module graph, say: reported, and airlock keeps going.
      return this.#reject(error, 'the edit was only partly applied; fix the cause and save again');
    }
    // Addresses airlock itself serves are opened once, at start: an edit says so instead of changing nothing in silence.
    const notApplied = [...(isDeepStrictEqual(read.metrics, this.#config.metrics) ? [] : ['metrics.listen']), ...(isDeepStrictEqual(read.ui, this.#config.ui) ? [] : ['ui.listen'])];
    this.#config = read;
    this.#rejected = undefined;
    this.bus.emit({ type: 'airlock-yaml.applied', service: CONFIG_FILE_SOURCE, ...applied, notApplied });
    return applied;
  }

  /** The edited config, or the error of the last attempt when every attempt failed. */
  #read(): Promise<Config | Error> {
    return readSettled(
      async () => {
        try {
          // Its size first: an oversized file is refused without reading it into memory.
          checkConfigSize((await stat(this.file)).size, this.file);
          return parseConfigBytes(await readFile(this.file), this.file).config;
        } catch (error) {
          return error as Error;
        }
      },
      (result) => !(result instanceof Error),
    );
  }

  /** Plans only the services whose section changed; the others keep the plan they run by. */
  async #plan(config: Config): Promise<ServicePlan[]> {
    // Services named on the command line that the edit removed are stopped, not an error.
    const kept = this.only.filter((name) => name in config.services);
    const names = this.only.length > 0 && kept.length === 0 ? [] : chooseServices(config, kept);
    const running = new Map(this.daemon.services.map((runner) => [runner.plan.name, runner.plan]));
    return Promise.all(
      names.map((name) => {
        const section = config.services[name] as ServiceConfig;
        const plan = running.get(name);
        return plan && isDeepStrictEqual(section, this.#config.services[name]) ? plan : planService(name, section, this.baseDir);
      }),
    );
  }

  #reject(error: unknown, consequence = 'nothing was changed, every service keeps running as before'): undefined {
    const failure = asAirlockError(error);
    const details = failure.details.length > 0 ? failure.details : [failure.message];
    this.#rejected = details.join('; ');
    this.bus.emit({
      type: 'airlock-yaml.rejected',
      service: CONFIG_FILE_SOURCE,
      code: fullCode(failure.code),
      message: `${failure.message}; ${consequence}`,
      details,
    });
    return undefined;
  }
}
