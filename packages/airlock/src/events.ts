import { fullCode } from './errors.js';
import type { ProcessEnd } from './supervise/process-end.js';
import type { Stream } from './supervise/spawn.js';

/** Phases of a reload, in order; their durations make up the reload line and metrics. */
export const PHASES = ['detect', 'build', 'stop', 'start', 'ready', 'swap'] as const;
export type Phase = (typeof PHASES)[number];

/**
 * Where a change's detect phase went: `settle` (from the first event until the tree was
 * quiet: debounce and burst rules), `hash` (content check), `graph` (Go module mapping),
 * `queued` (handed on until its reload began, e.g. behind a running swap). `watcher` is
 * how long after the newest write the watcher reported it (before detect starts).
 */
export interface DetectParts {
  readonly watcher?: number;
  readonly settle: number;
  readonly hash: number;
  readonly graph: number;
  readonly queued: number;
  /** An isolated save built early (at the debounce): how long the finished build waited for the burst rules to confirm the change was alone. */
  readonly confirm?: number;
}

interface Base {
  readonly service: string;
}

/** One side of a rollout over one analysis window, as the proxy counted it. */
export interface RolloutFigures {
  readonly generation: number;
  readonly requests: number;
  /** 5xx answers, the proxy's own 502s for connection failures included. */
  readonly errors: number;
  /** errors / requests; 0 without requests. */
  readonly errorRate: number;
  /** undefined without requests. */
  readonly p50Ms: number | undefined;
  readonly p99Ms: number | undefined;
  /** The p99's confidence interval at analysis.confidence (order statistics of the window): how much the window says about it. */
  readonly p99LowMs?: number;
  readonly p99HighMs?: number;
  /** Answers to forced requests (rollout.force), not judged. */
  readonly forced?: number;
  /** Clients that went away before their answer (not the generation's failure), not judged. */
  readonly disconnects?: number;
  /** Requests still open past the latency bound when the window closed: counted as errors. */
  readonly hanging?: number;
  /** Requests counted as hanging (in this window or before) that are still open now. */
  readonly stillHanging?: number;
}

/** What a rollout decision was made from: both sides over the same window. */
export interface RolloutWindow {
  readonly canary: RolloutFigures;
  readonly stable: RolloutFigures;
}

/** Fields every rollout event has: the two generations, the canary's share then, and why. */
interface RolloutBase extends Base {
  readonly canary: number;
  readonly stable: number;
  /** Percent of users on the canary after this transition. */
  readonly share: number;
  readonly reason: string;
  /** The window that decided it; absent for a decision by hand or by a process end. */
  readonly window?: RolloutWindow;
}

/**
 * Everything the core reports. Loggers, metrics and traces subscribe to these; the
 * core never formats output itself. docs/events.md documents the JSON form.
 */
export type AirlockEvent =
  | (Base & { readonly type: 'watch.started'; readonly root: string; readonly ms: number; /** Polling every this many ms (watch.poll) instead of native events. */ readonly pollMs?: number })
  /** restartOnly: only files of watch.restartOnly changed, so the current build starts again without building. */
  | (Base & { readonly type: 'change.detected'; readonly paths: readonly string[]; readonly restartOnly?: true })
  | (Base & { readonly type: 'change.unchanged'; readonly paths: readonly string[] })
  | (Base & { readonly type: 'change.unaffected'; readonly paths: readonly string[] })
  | (Base & { readonly type: 'service.waiting'; readonly for: readonly string[] })
  | (Base & {
      readonly type: 'reload.started';
      readonly generation: number;
      /** W3C trace context of this reload (32 and 16 hex digits); also the generation's TRACEPARENT. */
      readonly traceId: string;
      readonly spanId: string;
    })
  | (Base & { readonly type: 'build.started'; readonly generation: number; readonly cmd: string })
  | (Base & { readonly type: 'build.output'; readonly generation: number; readonly stream: Stream; readonly line: string })
  | (Base & {
      readonly type: 'build.cancelled';
      readonly generation: number;
      /** "a newer change" or "airlock is stopping". */
      readonly reason: string;
    })
  | (Base & {
      readonly type: 'build.failed';
      readonly generation: number;
      readonly code: string;
      readonly message: string;
      readonly locations: readonly string[];
    })
  | (Base & { readonly type: 'process.started'; readonly generation: number; readonly pid: number })
  | (Base & { readonly type: 'process.output'; readonly generation: number; readonly stream: Stream; readonly line: string })
  | (Base & {
      readonly type: 'process.exited';
      readonly generation: number;
      readonly pid: number;
      readonly end: ProcessEnd;
      /** True when airlock stopped it; false when it ended on its own. */
      readonly expected: boolean;
      readonly forced: boolean;
    })
  | (Base & { readonly type: 'process.restarting'; readonly generation: number; readonly delayMs: number })
  | (Base & {
      readonly type: 'reload.ready';
      readonly generation: number;
      readonly pid: number;
      readonly totalMs: number;
      readonly phases: Readonly<Partial<Record<Phase, number>>>;
      readonly reason: readonly string[];
      /** False when nothing was probed (no listen, no probe): it started, which is all airlock knows. */
      readonly probed: boolean;
      /** What `detect` was made of, for a reload a file change started (ms). */
      readonly detectParts?: DetectParts;
    })
  | (Base & {
      readonly type: 'reload.failed';
      readonly generation: number;
      readonly code: string;
      readonly message: string;
      readonly tail: readonly string[];
    })
  | (Base & { readonly type: 'generation.drained'; readonly generation: number; readonly ms: number })
  | (Base & { readonly type: 'health.failed'; readonly generation: number; readonly detail: string })
  | (Base & {
      readonly type: 'rollback';
      readonly generation: number;
      readonly failed: number;
      readonly code: string;
      readonly message: string;
    })
  | (Base & { readonly type: 'proxy.error'; readonly message: string })
  | (Base & {
      readonly type: 'config.rejected';
      readonly code: string;
      readonly file: string;
      readonly line: number | undefined;
      readonly col: number | undefined;
      readonly message: string;
    })
  | (Base & {
      readonly type: 'config.accepted';
      readonly file: string;
      /** How it reaches the app: a new generation (restart), or a signal to the running one. */
      readonly deliver: 'restart' | 'signal';
      readonly signal: string | undefined;
    })
  | (Base & {
      /** airlock.yaml was edited and applied; `service` is "airlock.yaml". */
      readonly type: 'airlock-yaml.applied';
      readonly added: readonly string[];
      readonly removed: readonly string[];
      readonly changed: readonly { readonly service: string; readonly change: string }[];
      /** Settings that take effect only when airlock starts again (metrics.listen). */
      readonly notApplied: readonly string[];
    })
  | (Base & {
      /** airlock.yaml was edited but does not parse or validate; nothing changed. */
      readonly type: 'airlock-yaml.rejected';
      readonly code: string;
      readonly message: string;
      /** One `airlock.yaml:LINE:COL: problem` per problem. */
      readonly details: readonly string[];
    })
  | (RolloutBase & {
      /** The canary moved to a step (or started, or resumed): step is 1-based, of steps. */
      readonly type: 'rollout.step';
      readonly step: number;
      readonly steps: number;
    })
  /** The step holds: too few requests, a failed window within failureLimit, or paused. */
  | (RolloutBase & { readonly type: 'rollout.held' })
  /** The canary takes all traffic; the stable generation drains. */
  | (RolloutBase & { readonly type: 'rollout.promoted' })
  /** Rolled back: share 0, the canary drains and stops, its build is marked bad. */
  | (RolloutBase & { readonly type: 'rollout.aborted'; readonly code: string })
  /** Files of a plugin in the app's plugin directory (plugins.dir) changed: its plugin host swaps it. */
  | (Base & { readonly type: 'plugin.changed'; readonly plugin: string; readonly paths: readonly string[] })
  /** A Go plugin (plugins.go) is being built, to a new path per build. */
  | (Base & { readonly type: 'plugin.build.started'; readonly plugin: string; readonly build: number; readonly reason: string; readonly cmd: string })
  | (Base & { readonly type: 'plugin.built'; readonly plugin: string; readonly build: number; readonly path: string; readonly ms: number; /** The serving generations it was checked against and fits (g3, …); empty when none was serving. */ readonly fits: readonly string[] })
  | (Base & { readonly type: 'plugin.build.failed'; readonly plugin: string; readonly build: number; readonly code: string; readonly message: string })
  /** A Go plugin build stopped before it finished: "a newer change" (a build of it is under way) or "airlock is stopping". */
  | (Base & { readonly type: 'plugin.build.cancelled'; readonly plugin: string; readonly build: number; readonly reason: string })
  /** A release channel was checked (agent): the newest release there, the one running. */
  | (Base & { readonly type: 'release.checked'; readonly channel: string; readonly newest: number | undefined; readonly running: number | undefined })
  /** A release channel or a release was refused (TUF, replay, bad mark, no release): nothing of it runs; what runs keeps serving. */
  | (Base & { readonly type: 'release.refused'; readonly channel: string; readonly version: number | undefined; readonly code: string; readonly message: string })
  /** A verified release takes traffic as `generation` (`canary`: as a fleet rollout's canary on this host). */
  | (Base & { readonly type: 'release.applied'; readonly channel: string; readonly version: number; readonly generation: number; readonly sha256: string; readonly canary?: boolean })
  /** A release failed its health gate or was rolled back: it is marked bad on disk and never applied again. */
  | (Base & { readonly type: 'release.rolled_back'; readonly channel: string; readonly version: number; readonly generation: number; readonly code: string; readonly reason: string })
  /** A verified plugin release was unpacked and moved into the plugins directory whole (the app's PluginHost swaps it in). */
  | (Base & { readonly type: 'plugin.release.applied'; readonly plugin: string; readonly channel: string; readonly version: number; readonly sha256: string })
  /** A plugin release (or the channel) was refused: nothing of it reaches the plugins directory; the plugin that runs keeps answering. */
  | (Base & { readonly type: 'plugin.release.refused'; readonly plugin: string | undefined; readonly channel: string; readonly version: number | undefined; readonly code: string; readonly message: string })
  | (Base & { readonly type: 'error'; readonly code: string; readonly message: string })
  /** Something the user should know once (no listen address: reloads have a gap). */
  | (Base & { readonly type: 'notice'; readonly message: string });

export type Listener = (event: AirlockEvent) => void;

/**
 * A failure nothing in airlock expected, in one service's pipeline: reported once with its
 * stack (AIRLOCK_ERR_INTERNAL); airlock and the other services go on.
 *
 * @example
 *   bus.emit(internalError('api', 'handling an exit', error));
 */
export function internalError(service: string, what: string, error: unknown): AirlockEvent {
  return { type: 'error', service, code: fullCode('INTERNAL'), message: `${what} failed unexpectedly: ${(error as Error).stack ?? String(error)}` };
}

/**
 * A synchronous, typed event bus; one per daemon, so tests can run several side by side.
 * Its subscribers are kept apart from the emitter and from each other: one that throws
 * (a dashboard, a reporter, a plugin host's stream) never reaches the pipeline that
 * emitted, is unsubscribed, and the others hear why (AIRLOCK_ERR_INTERNAL).
 *
 * @example
 *   const bus = new EventBus();
 *   const stop = bus.subscribe((event) => render(event), 'dashboard');
 *   bus.emit({ type: 'notice', service: 'api', message: 'hello' });
 *   stop();
 */
export class EventBus {
  readonly #listeners = new Map<Listener, string>();

  /** `name` says who it is when it fails (default: its function name). */
  subscribe(listener: Listener, name = listener.name || 'anonymous'): () => void {
    this.#listeners.set(listener, name);
    return () => this.#listeners.delete(listener);
  }

  emit(event: AirlockEvent): void {
    const failed: AirlockEvent[] = [];
    for (const [listener, name] of this.#listeners) {
      try {
        listener(event);
      } catch (error) {
        this.#listeners.delete(listener);
        const why = (error as Error | undefined)?.stack ?? String(error);
        failed.push({ type: 'error', service: 'airlock', code: fullCode('INTERNAL'), message: `the event subscriber "${name}" threw on ${event.type}; it is unsubscribed, airlock goes on: ${why}` });
      }
    }
    // After the event itself reached everyone: every subscriber hears events in order.
    for (const error of failed) this.emit(error);
  }
}
