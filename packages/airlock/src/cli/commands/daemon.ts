import { constants } from 'node:os';
import { discoverConfig, type ServiceFlags } from '../../config/discover.js';
import { planServices } from '../../config/plan.js';
import { ConfigFileReloader } from '../../live-config/config-file.js';
import { startReaper } from '../../supervise/reaper.js';
import { Daemon } from '../../daemon/daemon.js';
import type { RolloutAction } from '../../pipeline/canary-release.js';
import { EventBus } from '../../events.js';
import { subscribeJson } from '../../observe/json.js';
import { subscribePretty } from '../../observe/pretty.js';
import { boundedWriter } from '../../observe/bounded-writer.js';
import { controlSocketPath, startControl } from '../../control/server.js';
import { paletteFor, type GlobalOptions } from '../output.js';
import { installFatalHandler } from '../fatal.js';
import { ownOutputFiles } from '../own-output.js';

/**
 * `airlock dev` and `airlock run`: start every chosen service and keep them going until
 * a signal. First SIGINT/SIGTERM: graceful stop, exit 0. A second one: SIGKILL of every
 * process group, exit 128 + signal number. SIGHUP: rebuild and swap every service (under
 * `airlock run`, after applying airlock.yaml as it is now). In `airlock dev`, saving
 * airlock.yaml applies the edit to the services it changes.
 */
export async function runDaemon(names: readonly string[], flags: ServiceFlags, options: GlobalOptions, watch: boolean): Promise<number> {
  const loaded = discoverConfig(process.cwd(), options.config, flags);
  // Whatever ends airlock, even SIGKILL, what it started ends with it.
  startReaper();
  const plans = await planServices(loaded.config, loaded.baseDir, names);
  const bus = new EventBus();
  const write = boundedWriter(process.stdout);
  if (options.logFormat === 'json') subscribeJson(bus, write);
  else {
    const verbosity = options.quiet ? 'quiet' : options.verbose ? 'verbose' : 'normal';
    subscribePretty(bus, { services: plans.map((plan) => plan.name), palette: paletteFor(options), verbosity, write });
  }

  // Traces are on when an OTLP endpoint is configured the standard OpenTelemetry way.
  // Loaded only when used: OpenTelemetry and prom-client cost ~150 ms of every start otherwise.
  const tracing = process.env.OTEL_EXPORTER_OTLP_ENDPOINT || process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ? (await import('../../observe/tracing.js')).subscribeTracing(bus) : undefined;
  const socket = controlSocketPath(loaded.baseDir);
  const daemon = new Daemon(plans, bus, {
    watch,
    controlSocket: socket,
    buildConcurrency: loaded.config.builds?.concurrency,
    traceContext: tracing !== undefined,
    configFile: loaded.file,
    ownOutput: ownOutputFiles(),
  });
  // airlock dev applies edits of airlock.yaml as they are saved; airlock run on SIGHUP.
  const reloader = loaded.file ? new ConfigFileReloader(loaded.file, loaded.baseDir, loaded.config, names, daemon, bus) : undefined;
  const metrics = loaded.config.metrics ? (await import('../../observe/metrics.js')).subscribeMetrics(bus) : undefined;
  if (loaded.config.metrics) await metrics?.listen(loaded.config.metrics.listen.host, loaded.config.metrics.listen.port);
  // What the control socket steers: the services, and airlock.yaml's last refused edit.
  const target = {
    status: () => daemon.status(),
    reload: (names: readonly string[]) => daemon.reload(names),
    rollout: (name: string, action: RolloutAction) => daemon.rollout(name, action),
    get configRejected() {
      return reloader?.rejected;
    },
  };
  const control = await startControl(socket, target, bus);
  const closeAround = async () => {
    await control.close();
    await metrics?.close();
    await tracing?.close();
  };
  /**
   * SIGHUP rebuilds and swaps every service; under `airlock run` it first applies
   * airlock.yaml as it is now, and the services that edit already restarted are not
   * restarted twice.
   */
  const onHangup = async () => {
    const applied = watch ? undefined : await reloader?.reloadNow();
    const restarted = new Set([...(applied?.added ?? []), ...(applied?.changed ?? []).filter((c) => c.change !== 'update').map((c) => c.service)]);
    const rest = daemon.services.map((service) => service.plan.name).filter((name) => !restarted.has(name));
    if (rest.length > 0) daemon.reload(rest);
  };
  let stopped = false;
  installFatalHandler(
    () => {
      stopped = true;
      daemon.killNow();
    },
    options,
    paletteFor(options, process.stderr),
  );
  // Safety net: whatever ends this process, no child outlives it.
  process.once('exit', () => {
    if (!stopped) daemon.killNow();
  });
  const exitCode = new Promise<number>((resolve) => {
    let signals = 0;
    const onSignal = (signal: NodeJS.Signals) => {
      signals += 1;
      // Said on stderr in pretty mode (JSON output stays events only).
      const say = (text: string) => options.logFormat === 'pretty' && !options.quiet && process.stderr.write(`airlock: ${text}\n`);
      if (signals === 1) {
        const count = daemon.services.length;
        say(`${signal}: stopping ${count} service${count === 1 ? '' : 's'} gracefully (stop signal, then SIGKILL after stop.timeout); ${signal} again kills every process at once`);
        const started = performance.now();
        // Whatever goes wrong while stopping, airlock still exits (the exit hook kills the rest).
        void (reloader?.stop() ?? Promise.resolve())
          .then(() => daemon.stop())
          .then(closeAround)
          .then(() => say(`stopped ${count} service${count === 1 ? '' : 's'} in ${Math.round(performance.now() - started)} ms; nothing left running`))
          .catch((error: unknown) => process.stderr.write(`airlock: while stopping: ${String(error)}\n`))
          .finally(() => {
            stopped = true;
            resolve(0);
          });
      } else {
        say(`${signal} again: killing every process group at once`);
        daemon.killNow();
        stopped = true;
        resolve(128 + (constants.signals[signal] ?? 0));
      }
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    process.on('SIGHUP', () => void onHangup());
  });
  // Signal handlers do not keep Node alive; without a watcher (`airlock run`) and with
  // every service exited, airlock must still wait for SIGHUP or Ctrl-C.
  const keepAlive = setInterval(() => undefined, 1 << 30);
  try {
    // Start-up may wait on dependsOn for a long time; a signal must still end it.
    const started = (async () => {
      await daemon.watch();
      if (watch) await reloader?.start();
      await daemon.startServices();
    })();
    return await Promise.race([exitCode, started.then(() => exitCode)]);
  } catch (error) {
    // A start-up failure (address in use, go list failing): stop what did start, then report.
    await reloader?.stop();
    await daemon.stop().catch(() => daemon.killNow());
    await closeAround().catch(() => undefined);
    stopped = true;
    throw error;
  } finally {
    clearInterval(keepAlive);
  }
}
