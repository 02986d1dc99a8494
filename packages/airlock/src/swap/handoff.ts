import type { Supervised } from '../supervise/spawn.js';
import type { Probe } from '../health/probe.js';
import type { TrafficSplit } from '../proxy/split.js';

/** What a handoff adds to one generation's start, and how its readiness is judged. */
export interface Launch {
  readonly env: Readonly<Record<string, string>>;
  readonly extraFds: readonly (number | 'pipe')[];
  readonly listenPid: boolean;
  /** proxy modes: the private port the generation listens on (its PORT). */
  readonly backendPort?: number;
  /**
   * Decides, once the process runs, what "ready" means for it: a probe against an
   * address only this generation answers, or (without one) staying up for settleMs.
   */
  readiness(child: Supervised): Promise<{ probe: Probe | undefined; settleMs: number }>;
  /** proxy modes: false once the promoted generation's process is gone. */
  readonly alive?: () => boolean;
  /** proxy modes: the promoted generation's pid (undefined before), for proxy workers in other processes. */
  readonly pid?: () => number | undefined;
  /** Lets the generation take traffic (fd: the gate opens). */
  promote(child: Supervised): void;
  /** Frees per-generation resources (a probe socket) once it is gone or never promoted. */
  release(): void;
}

/**
 * Builds the configured probe for a generation: against `address` when it has one only it
 * answers; `connectCounts` is false where a TCP connect proves nothing (airlock's own held
 * socket completes the handshake for anyone).
 */
export type ProbeFactory = (
  address: { host: string; port: number } | undefined,
  connectCounts: boolean,
  /** The generation's own variables (its PORT), for exec probes. */
  env: Readonly<Record<string, string>>,
) => Probe | undefined;

/**
 * How traffic moves from one generation to the next (docs/strategies.md). The service
 * pipeline calls these in order: launch → (stop old, if stopsFirst) → spawn → readiness
 * → route → retire old → stop old.
 */
export interface Handoff {
  /** restart: the old generation must be gone before the new one starts. */
  readonly stopsFirst: boolean;
  /** Binds what the service's public address needs (held socket, proxy). */
  open(): Promise<void>;
  launch(generation: number): Promise<Launch>;
  /** New work goes to this generation from now on; undefined: hold new work. */
  route(generation: number | undefined, launch: Launch | undefined): void;
  /**
   * Nothing serves and nothing will soon (a crash loop): where the handoff can answer
   * (the proxies), waiting and new work get `reason` at once instead of being held;
   * the next route() of a generation ends it.
   */
  unavailable(reason: string): void;
  /** proxy (HTTP) only: a rollout's split of requests between the routed generation and a canary; undefined ends it. */
  readonly split?: (split: TrafficSplit | undefined) => void;
  /** Waits until a generation that no longer gets new work has finished what it holds (at most drainMs). */
  retire(generation: number, drainMs: number): Promise<void>;
  /** airlock is stopping, before the generations get their stop signal: take no new work and let what is in flight finish (at most drainMs). */
  quiesce?(drainMs: number): Promise<void>;
  close(): Promise<void>;
  destroy(): void;
}

/**
 * `restart` without `listen`, for programs that serve nothing: stop, then start; ready
 * once it runs, or by its exec or log probe.
 */
export const bareRestart = (probeFor: ProbeFactory): Handoff => ({
  stopsFirst: true,
  open: async () => undefined,
  launch: async () => ({
    env: {},
    extraFds: [],
    listenPid: false,
    readiness: async () => ({ probe: probeFor(undefined, false, {}), settleMs: 0 }),
    promote: () => undefined,
    release: () => undefined,
  }),
  route: () => undefined,
  unavailable: () => undefined,
  retire: async () => undefined,
  close: async () => undefined,
  destroy: () => undefined,
});
