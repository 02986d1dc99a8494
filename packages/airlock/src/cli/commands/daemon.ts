import { hostname } from 'node:os';
import { discoverConfig, type ServiceFlags } from '../../config/discover.js';
import { planServices } from '../../config/plan.js';
import { AirlockError } from '../../errors.js';
import { listenAddress, UI_LISTEN_DEFAULT } from '../../config/schema.js';
import { AirlockHost } from '../../daemon/host.js';
import { subscribeJson } from '../../observe/json.js';
import { subscribePretty } from '../../observe/pretty.js';
import { boundedWriter } from '../../observe/bounded-writer.js';
import { paletteFor, type GlobalOptions } from '../output.js';
import { installFatalHandler } from '../fatal.js';
import { ownOutputFiles } from '../own-output.js';
import { clearBeforeBuilds } from '../../observe/clear-screen.js';
import { notifyOnBuilds, notifySend } from '../../observe/notify.js';
import { findExecutable } from '../../supervise/find-executable.js';

/** Where the dashboard listens: --ui (its address, or the default), else ui: in airlock.yaml, else nowhere. */
function uiAddress(flag: boolean | string | undefined, configured: { host: string; port: number } | undefined): { host: string; port: number } | undefined {
  if (flag === undefined || flag === false) return configured;
  const parsed = listenAddress.safeParse(flag === true ? (configured ? `${configured.host}:${configured.port}` : UI_LISTEN_DEFAULT) : flag);
  if (!parsed.success) throw new AirlockError('USAGE_FLAG', `--ui ${String(flag)}: expected an address such as 127.0.0.1:9465, :9465 or 9465`);
  return parsed.data;
}

/** `--host ID`: letters, digits, '.', '_', '-' (it is a NATS key token and a rollout names it); default the hostname. */
function hostFlag(value: string | undefined): string {
  const host = value ?? hostname();
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(host)) {
    throw new AirlockError('USAGE_FLAG', `--host ${JSON.stringify(host)}: a host id is letters, digits, '.', '_' or '-' (at most 128, starting with a letter or digit)${value === undefined ? '; this machine\'s hostname is not one, so pass --host' : ''}`);
  }
  return host;
}

/** `--once`, `--clear`, `--notify` (docs/watching.md). */
export interface SessionOptions {
  /** --ui: true for the default address, or the address given. */
  readonly ui?: boolean | string;
  readonly once?: boolean;
  readonly clear?: boolean;
  readonly notify?: boolean;
  /** `airlock agent --host ID`: this agent's id in a fleet (default: the machine's hostname). */
  readonly host?: string;
}

/**
 * `airlock dev`, `airlock run` and `airlock agent`: the chosen services under one `AirlockHost` (signals,
 * control socket, airlock.yaml edits: see there), with the log output the global options
 * ask for. Resolves with the exit code; main.ts exits with it.
 */
export async function runDaemon(names: readonly string[], flags: ServiceFlags, options: GlobalOptions, mode: 'dev' | 'run' | 'agent', session: SessionOptions = {}): Promise<number> {
  const loaded = discoverConfig(process.cwd(), options.config, flags);
  const plans = await planServices(loaded.config, loaded.baseDir, names);
  if (mode === 'agent' && !plans.some((plan) => plan.release !== undefined)) {
    throw new AirlockError('USAGE_FLAG', `airlock agent runs services with release: in airlock.yaml, and none of ${plans.map((plan) => plan.name).join(', ')} has it; add release: { from, channel, trust } (docs/releases.md), or use airlock run`);
  }
  // --once answers whether it starts: nothing to watch.
  const watch = mode === 'dev' && !session.once;
  const notifier = session.notify ? findExecutable('notify-send') : undefined;
  const write = boundedWriter(process.stdout);
  const verbosity = options.quiet ? 'quiet' : options.verbose ? 'verbose' : 'normal';
  const host = await AirlockHost.open({
    loaded,
    names,
    plans,
    watch,
    ownOutput: ownOutputFiles(),
    observe: (bus) => {
      // Subscribed first, so the screen is cleared before the build's own line: it shows this build's lines only.
      if (session.clear && options.logFormat === 'pretty') clearBeforeBuilds(bus, write);
      if (options.logFormat === 'json') subscribeJson(bus, write);
      else subscribePretty(bus, { services: plans.map((plan) => plan.name), palette: paletteFor(options), verbosity, write });
      if (notifier !== undefined) notifyOnBuilds(bus, notifySend(notifier));
    },
    once: session.once,
    ui: uiAddress(session.ui, loaded.config.ui?.listen),
    ...(mode === 'agent' ? { fleetHost: hostFlag(session.host) } : {}),
    // Said on stderr in pretty mode (JSON output stays events only).
    say: (text) => void (options.logFormat === 'pretty' && !options.quiet && process.stderr.write(`airlock: ${text}\n`)),
  });
  if (session.notify && notifier === undefined) host.bus.emit({ type: 'notice', service: 'airlock', message: '--notify: notify-send is not on PATH, so no desktop notifications (Debian: apt-get install libnotify-bin)' });
  installFatalHandler(() => host.killNow(), options, paletteFor(options, process.stderr));
  return host.run();
}
