import { constants } from 'node:os';
import type { LoadedConfig } from '../config/load.js';
import type { ServicePlan } from '../config/plan.js';
import { controlSocketPath, startControl } from '../control/server.js';
import { EventBus } from '../events.js';
import { ConfigFileReloader } from '../live-config/config-file.js';
import type { SourceFactory } from '../pipeline/artifact-source.js';
import type { RolloutAction } from '../pipeline/canary-release.js';
import { cgroupRoot, endLeftovers, removeCgroupRoot } from '../supervise/cgroup.js';
import { startReaper } from '../supervise/reaper.js';
import { Daemon } from './daemon.js';
import { Dashboard } from '../browser/dashboard.js';
import { untilReady } from './once.js';
import { FleetReporter } from '../fleet/reporter.js';
import { closeNatsConnections } from '../release/nats/shared.js';

/**
 * "nothing left running", said only once checked: every process in this airlock's
 * cgroups is gone (any still there is killed now and counted). Without cgroups airlock
 * cannot see a descendant that cleared its environment and left its session, and says so.
 */
function leftBehind(): string {
  if (cgroupRoot() === undefined) return 'nothing left running that airlock can track (no writable cgroup here: a process that leaves its session with a cleared environment is not seen; docs/processes.md)';
  const killed = endLeftovers();
  removeCgroupRoot();
  return killed.length === 0 ? 'nothing left running' : `${killed.length} leftover process${killed.length === 1 ? '' : 'es'} killed (${killed.join(', ')}); nothing left running`;
}

export interface HostOptions {
  /** The config as loaded (file, base directory) and the services chosen from it. */
  readonly loaded: LoadedConfig;
  readonly names: readonly string[];
  readonly plans: readonly ServicePlan[];
  /** Watch sources and reload on change (`airlock dev`); false for `airlock run` (and an agent). */
  readonly watch: boolean;
  /** Where each service's new artifacts come from (default: its builds). */
  readonly source?: SourceFactory;
  /** Subscribes the log output the user chose (pretty or JSON) before anything is published. */
  readonly observe: (bus: EventBus) => void;
  /** airlock's own words about stopping (stderr in pretty mode; nothing in JSON mode). */
  readonly say: (text: string) => void;
  /** Files airlock's own output goes to (`airlock dev > log`): writing them is no change. */
  readonly ownOutput?: readonly string[];
  /** `--once`: build, start, wait until every service is ready, stop; exit 0, or 1 at the first failure. */
  readonly once?: boolean;
  /** `--ui` or ui: in airlock.yaml: where the dashboard listens. */
  readonly ui?: { readonly host: string; readonly port: number };
  /** An agent's host id in a fleet (`airlock agent --host`): its services beat under it and a rollout names it. */
  readonly fleetHost?: string;
}

/**
 * One running airlock's process wiring, the same for `airlock dev`, `airlock run` and an
 * agent: the event bus and its subscribers (logs, traces, metrics), the daemon, the
 * airlock.yaml reloader, the control socket, and the signals. First SIGINT/SIGTERM:
 * graceful stop, exit code 0. A second one: SIGKILL of every process group, 128 + its
 * number. SIGHUP: rebuild and swap every service (under `run`, after applying airlock.yaml
 * as it is now). It never exits the process: `run` resolves with the exit code.
 *
 * @example
 *   const host = await AirlockHost.open({ loaded, names, plans, watch: true, observe, say });
 *   installFatalHandler(() => host.killNow(), options, palette);
 *   process.exitCode = await host.run();
 */
export class AirlockHost {
  #stopped = false;
  #closeAround: () => Promise<void> = async () => undefined;
  #reloader: ConfigFileReloader | undefined;

  private constructor(
    readonly bus: EventBus,
    readonly daemon: Daemon,
    private readonly options: HostOptions,
  ) {}

  /** Wires everything up to the control socket; nothing starts yet. */
  static async open(options: HostOptions): Promise<AirlockHost> {
    const { loaded, names, plans, watch } = options;
    // Whatever ends airlock, even SIGKILL, what it started ends with it.
    startReaper();
    const bus = new EventBus();
    options.observe(bus);
    // Traces are on when an OTLP endpoint is configured the standard OpenTelemetry way.
    // Loaded only when used: OpenTelemetry and prom-client cost ~150 ms of every start otherwise.
    const otel = process.env.OTEL_EXPORTER_OTLP_ENDPOINT || process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
    const tracing = otel ? (await import('../observe/tracing.js')).subscribeTracing(bus) : undefined;
    const socket = controlSocketPath(loaded.baseDir);
    const daemon = new Daemon(plans, bus, {
      watch,
      controlSocket: socket,
      buildConcurrency: loaded.config.builds?.concurrency,
      traceContext: tracing !== undefined,
      configFile: loaded.file,
      ownOutput: options.ownOutput,
      source: options.source,
      host: options.fleetHost,
    });
    const host = new AirlockHost(bus, daemon, options);
    // airlock dev applies edits of airlock.yaml as they are saved; airlock run on SIGHUP.
    const reloader = loaded.file ? new ConfigFileReloader(loaded.file, loaded.baseDir, loaded.config, names, daemon, bus) : undefined;
    host.#reloader = reloader;
    const metrics = loaded.config.metrics ? (await import('../observe/metrics.js')).subscribeMetrics(bus) : undefined;
    if (loaded.config.metrics) await metrics?.listen(loaded.config.metrics.listen.host, loaded.config.metrics.listen.port);
    // What the control socket steers: the services, and airlock.yaml's last refused edit.
    const target = {
      status: () => daemon.status(),
      reload: (list: readonly string[]) => daemon.reload(list),
      rollout: (name: string, action: RolloutAction) => daemon.rollout(name, action),
      get configRejected() {
        return reloader?.rejected;
      },
    };
    // What is open so far, closed newest first: at stop, or when a later one cannot open.
    // Heartbeats of the services that follow a nats:// repository; the NATS connections close last.
    const heartbeats = options.fleetHost === undefined ? undefined : FleetReporter.start(plans, bus, options.fleetHost);
    const nats = { close: closeNatsConnections };
    const opened: { close(): Promise<void> }[] = [nats, ...(tracing ? [tracing] : []), ...(metrics ? [metrics] : []), ...(heartbeats ? [heartbeats] : [])];
    host.#closeAround = async () => {
      for (const piece of [...opened].reverse()) await piece.close();
    };
    const open = async <T extends { close(): Promise<void> }>(opening: Promise<T>): Promise<T> => {
      const piece = await opening.catch(async (error: unknown) => {
        await host.#closeAround();
        throw error;
      });
      opened.push(piece);
      return piece;
    };
    await open(startControl(socket, target, bus));
    const ui = options.ui ? await open(Dashboard.open(options.ui, bus, target)) : undefined;
    if (ui) bus.emit({ type: 'notice', service: 'airlock', message: `dashboard: ${ui.url}` });
    return host;
  }

  /** SIGKILL of every process group at once (a second Ctrl-C, a fatal error, the exit hook). */
  killNow(): void {
    this.#stopped = true;
    this.daemon.killNow();
  }

  /** Starts watching and the services, then runs until a signal; resolves with the exit code. */
  async run(): Promise<number> {
    const { daemon, options } = this;
    // Safety net: whatever ends this process, no child outlives it.
    process.once('exit', () => {
      if (!this.#stopped) daemon.killNow();
    });
    const exitCode = new Promise<number>((resolve) => {
      let signals = 0;
      const onSignal = (signal: NodeJS.Signals) => {
        signals += 1;
        if (signals === 1) void this.#stopGracefully(signal).finally(() => resolve(0));
        else {
          options.say(`${signal} again: killing every process group at once`);
          this.killNow();
          resolve(128 + (constants.signals[signal] ?? 0));
        }
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      process.on('SIGHUP', () => void this.#onHangup());
    });
    // Signal handlers do not keep Node alive; without a watcher (`airlock run`) and with
    // every service exited, airlock must still wait for SIGHUP or Ctrl-C.
    const keepAlive = setInterval(() => undefined, 1 << 30);
    try {
      const once = options.once ? this.#once() : undefined;
      // Start-up may wait on dependsOn for a long time; a signal must still end it.
      const started = (async () => {
        await daemon.watch();
        if (options.watch) await this.#reloader?.start();
        await daemon.startServices();
      })();
      return await Promise.race([exitCode, ...(once ? [once] : []), started.then(() => exitCode)]);
    } catch (error) {
      // A start-up failure (address in use, go list failing): stop what did start, then report.
      await this.#reloader?.stop();
      await daemon.stop().catch(() => daemon.killNow());
      await this.#closeAround().catch(() => undefined);
      this.#stopped = true;
      throw error;
    } finally {
      clearInterval(keepAlive);
    }
  }

  /** `--once`: the exit code once every service is ready (0) or one failed (1), after a graceful stop. */
  async #once(): Promise<number> {
    const verdict = await untilReady(this.bus, this.daemon.services.map((service) => service.plan.name));
    if (verdict.ok) this.options.say(`--once: ${verdict.services.join(', ')} ready`);
    else this.options.say(`--once: ${verdict.service} did not become ready: ${verdict.reason}`);
    await this.#stopGracefully(undefined);
    return verdict.ok ? 0 : 1;
  }

  /** Stops everything gently; `signal`: the one that asked (a second one kills at once). */
  async #stopGracefully(signal: NodeJS.Signals | undefined): Promise<void> {
    const count = this.daemon.services.length;
    const services = `${count} service${count === 1 ? '' : 's'}`;
    const again = signal === undefined ? '' : `; ${signal} again kills every process at once`;
    this.options.say(`${signal === undefined ? '' : `${signal}: `}stopping ${services} gracefully (stop signal, then SIGKILL after stop.timeout)${again}`);
    const started = performance.now();
    // Whatever goes wrong while stopping, airlock still exits (the exit hook kills the rest).
    try {
      await this.#reloader?.stop();
      await this.daemon.stop();
      await this.#closeAround();
      this.options.say(`stopped ${services} in ${Math.round(performance.now() - started)} ms; ${leftBehind()}`);
    } catch (error) {
      process.stderr.write(`airlock: while stopping: ${String(error)}\n`);
    } finally {
      this.#stopped = true;
    }
  }

  /**
   * SIGHUP rebuilds and swaps every service; under `airlock run` it first applies
   * airlock.yaml as it is now, and the services that edit already restarted are not
   * restarted twice.
   */
  async #onHangup(): Promise<void> {
    const applied = this.options.watch ? undefined : await this.#reloader?.reloadNow();
    const restarted = new Set([...(applied?.added ?? []), ...(applied?.changed ?? []).filter((c) => c.change !== 'update').map((c) => c.service)]);
    const rest = this.daemon.services.map((service) => service.plan.name).filter((name) => !restarted.has(name));
    if (rest.length > 0) this.daemon.reload(rest);
  }
}
