import { catalog, type ErrorCode } from '../errors.js';
import { PHASES, type AirlockEvent, type EventBus } from '../events.js';
import { describeEnd } from '../supervise/process-end.js';
import type { Palette } from './color.js';

export interface PrettyOptions {
  readonly services: readonly string[];
  readonly palette: Palette;
  readonly verbosity: 'quiet' | 'normal' | 'verbose';
  /** `droppable`: a child's output line, which a bounded writer may drop for a slow reader before airlock's own. */
  readonly write: (line: string, droppable?: boolean) => void;
}

function howTo(code: string): string | undefined {
  return catalog[code.replace(/^AIRLOCK_ERR_/, '') as ErrorCode]?.howTo;
}

/** "api g4 ready in 812 ms: build 640 · start 150 · ready 22". */
export function reloadLine(event: Extract<AirlockEvent, { type: 'reload.ready' }>): string {
  const parts = event.detectParts;
  // detect 101 (watcher 1 · settle 98 · hash 2 · graph 0 · queued 0): where a millisecond of detect goes.
  const detectSplit = parts
    ? ` (${[...(parts.watcher === undefined ? [] : [`watcher ${Math.round(parts.watcher)}`]), `settle ${Math.round(parts.settle)}`, `hash ${Math.round(parts.hash)}`, `graph ${Math.round(parts.graph)}`, `queued ${Math.round(parts.queued)}`, ...(parts.confirm === undefined ? [] : [`confirm ${Math.round(parts.confirm)}`])].join(' · ')})`
    : '';
  const phases = PHASES.filter((phase) => event.phases[phase] !== undefined)
    .map((phase) => `${phase} ${Math.round(event.phases[phase] as number)}${phase === 'detect' ? detectSplit : ''}`)
    .join(' · ');
  const files = event.reason.filter((reason) => reason !== 'start');
  const why = files.length > 0 ? ` ← ${files.slice(0, 3).join(', ')}${files.length > 3 ? ` (+${files.length - 3})` : ''}` : '';
  // Without a probe airlock only knows the process started, not that it serves.
  const verb = event.probed === false ? 'started' : 'ready';
  return `${event.service} g${event.generation} ${verb} in ${Math.round(event.totalMs)} ms: ${phases} (pid ${event.pid})${why}`;
}

/**
 * Human output: every line carries the service's coloured prefix; child output passes
 * through as it comes; airlock's own lines say what happened and, on errors, what to do.
 */
/** `applied: added worker; api rebuilds; web restarts` for an edit of airlock.yaml. */
export function appliedLine(event: Extract<AirlockEvent, { type: 'airlock-yaml.applied' }>): string {
  const verb: Readonly<Record<string, string>> = {
    replace: 'starts again (address or handoff changed)',
    rebuild: 'rebuilds',
    restart: 'restarts with the same build',
    update: 'keeps running (new watch/stop/dependsOn settings)',
  };
  const parts = [
    ...(event.added.length > 0 ? [`added ${event.added.join(', ')}`] : []),
    ...(event.removed.length > 0 ? [`removed ${event.removed.join(', ')}`] : []),
    ...event.changed.map(({ service, change }) => `${service} ${verb[change] ?? change}`),
    ...event.notApplied.map((key) => `${key} takes effect when airlock starts again`),
  ];
  return `applied: ${parts.join('; ') || 'no service changed'}`;
}

export function subscribePretty(bus: EventBus, options: PrettyOptions): () => void {
  // Services added by an edit of airlock.yaml get the next colour and widen the column.
  const names = [...options.services];
  let width = Math.max(...names.map((name) => name.length), 1);
  const { palette } = options;
  const prefix = (service: string) => {
    if (!names.includes(service)) {
      names.push(service);
      width = Math.max(width, service.length);
    }
    return palette.service(names.indexOf(service), `${service.padEnd(width)} │`);
  };
  const say = (service: string, text: string, droppable = false) => options.write(`${prefix(service)} ${text}`, droppable);
  const info = (service: string, text: string) => {
    if (options.verbosity !== 'quiet') say(service, palette.dim(text));
  };
  const verbose = (service: string, text: string) => {
    if (options.verbosity === 'verbose') say(service, palette.dim(text));
  };
  const fail = (service: string, code: string, message: string, tail: readonly string[] = []) => {
    say(service, palette.red(`✗ ${message} [${code}]`));
    for (const line of tail) say(service, palette.dim(`  | ${line}`));
    const hint = howTo(code);
    if (hint) say(service, palette.dim(`  → ${hint}`));
  };

  // Generations whose own output was printed as it came.
  const shownOutput = new Set<string>();
  return bus.subscribe((event) => {
    const s = event.service;
    switch (event.type) {
      case 'watch.started':
        // Polling costs CPU on every pass: said at the default verbosity, so it is never on unnoticed.
        if (event.pollMs !== undefined) return info(s, `watching ${event.root} by polling every ${event.pollMs} ms (watch.poll)`);
        return verbose(s, `watching ${event.root} (${Math.round(event.ms)} ms)`);
      case 'change.detected':
        // A restart without a build is said: a user expecting a build sees why there was none.
        if (event.restartOnly) return info(s, `changed: ${event.paths.join(', ')} (watch.restartOnly: restarting the current build, no build)`);
        return verbose(s, `changed: ${event.paths.join(', ')}`);
      case 'change.unchanged':
        return verbose(s, `content unchanged, nothing to do: ${event.paths.join(', ')}`);
      case 'reload.started':
        return verbose(s, `g${event.generation} reload trace ${event.traceId}`);
      case 'config.rejected':
        return fail(s, event.code, `${event.file}${event.line ? `:${event.line}:${event.col}` : ''}: ${event.message}; the running generation keeps the last good config`);
      case 'config.accepted':
        return info(s, `${event.file} is valid: ${event.deliver === 'signal' ? `${event.signal ?? 'signal'} sent to the running generation` : 'starting a generation with it'}`);
      case 'change.unaffected':
        return verbose(s, `not affected by: ${event.paths.join(', ')}`);
      case 'service.waiting':
        return info(s, `waiting for ${event.for.join(', ')} to be ready`);
      case 'build.started':
        return info(s, `g${event.generation} building: ${event.cmd}`);
      case 'build.output':
        return say(s, event.line, true);
      case 'process.output':
        shownOutput.add(`${s} ${event.generation}`);
        return say(s, event.line, true);
      case 'build.cancelled':
        return info(s, `g${event.generation} build cancelled: ${event.reason}`);
      case 'build.failed':
        return fail(s, event.code, `g${event.generation} ${event.message}`);
      case 'process.started':
        return verbose(s, `g${event.generation} started (pid ${event.pid})`);
      case 'process.exited':
        if (event.forced) return say(s, palette.red(`g${event.generation} (pid ${event.pid}) did not stop within stop.timeout of its stop signal: killed with SIGKILL`));
        if (event.expected) return verbose(s, `g${event.generation} (pid ${event.pid}) stopped: ${describeEnd(event.end)}`);
        return say(s, palette.red(`g${event.generation} (pid ${event.pid}) ${describeEnd(event.end)}`));
      case 'process.restarting':
        return info(s, `restarting in ${event.delayMs} ms`);
      case 'reload.ready':
        // The reload line starts with the service name itself, so it needs no prefix.
        if (options.verbosity !== 'quiet') options.write(palette.green(reloadLine(event)));
        return;
      case 'reload.failed':
        // The generation's output is on screen already: its tail again would show a crash twice.
        return fail(s, event.code, event.message, shownOutput.has(`${s} ${event.generation}`) ? [] : event.tail);
      case 'notice':
        return info(s, event.message);
      case 'generation.drained':
        return verbose(s, `g${event.generation} drained and stopped (${Math.round(event.ms)} ms)`);
      case 'health.failed':
        return say(s, palette.red(`g${event.generation} health check failed: ${event.detail}`));
      case 'rollback':
        return fail(s, event.code, event.message);
      case 'proxy.error':
        return verbose(s, `proxy: ${event.message}`);
      case 'airlock-yaml.applied':
        return info(s, appliedLine(event));
      case 'airlock-yaml.rejected':
        return fail(s, event.code, event.message, event.details);
      case 'rollout.step':
        return say(s, palette.green(`rollout g${event.canary}: step ${event.step}/${event.steps}, ${event.share} % of users (stable g${event.stable}): ${event.reason}`));
      case 'rollout.held':
        return info(s, `rollout g${event.canary} held at ${event.share} %: ${event.reason}`);
      case 'rollout.promoted':
        return say(s, palette.green(`rollout g${event.canary} promoted: every user, g${event.stable} drains: ${event.reason}`));
      case 'rollout.aborted':
        return fail(s, event.code, `rollout g${event.canary} aborted, every user back on g${event.stable}: ${event.reason}`);
      case 'plugin.changed':
        return info(s, `plugin ${event.plugin} changed (${event.paths.join(', ')}): the app's plugin host swaps it`);
      case 'plugin.build.started':
        return info(s, `plugin ${event.plugin} build ${event.build} (${event.reason}): ${event.cmd}`);
      case 'plugin.built':
        return info(s, `plugin ${event.plugin} build ${event.build} ready in ${Math.round(event.ms)} ms${event.fits.length ? `, fits ${event.fits.join(', ')}` : ''}: ${event.path}`);
      case 'plugin.build.failed':
        return fail(s, event.code, event.message);
      case 'plugin.build.cancelled':
        return info(s, `plugin ${event.plugin} build ${event.build} cancelled: ${event.reason}`);
      case 'release.checked':
        return verbose(s, `channel ${event.channel}: newest ${event.newest ?? 'none'}, running ${event.running ?? 'none'}`);
      case 'release.refused':
        return fail(s, event.code, `${event.message}; what runs keeps serving`);
      case 'release.applied':
        return say(s, palette.green(`release ${event.version} (${event.channel}${event.canary ? ', fleet canary' : ''}) serves as g${event.generation}, sha256 ${event.sha256.slice(0, 12)}`));
      case 'plugin.release.applied':
        return say(s, palette.green(`plugin ${event.plugin} ${event.version} (${event.channel}) verified and in place, sha256 ${event.sha256.slice(0, 12)}`));
      case 'plugin.release.refused':
        return fail(s, event.code, `${event.plugin === undefined ? 'plugins' : `plugin ${event.plugin}${event.version === undefined ? '' : ` ${event.version}`}`}: ${event.message}; the plugin that runs keeps answering`);
      case 'release.rolled_back':
        return fail(s, event.code, `release ${event.version} (${event.channel}) marked bad: ${event.reason}`);
      case 'error':
        return fail(s, event.code, event.message);
    }
  }, 'the terminal log');
}
