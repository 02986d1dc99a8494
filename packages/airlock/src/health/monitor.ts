import { setTimeout as delay } from 'node:timers/promises';
import type { HealthPlan } from '../config/plan.js';
import type { Supervised } from '../supervise/spawn.js';
import { describeEnd } from '../supervise/process-end.js';
import { groupRss, MemoryGrowth } from './memory.js';
import type { Probe, ProbeResult } from './probe.js';

export type Verdict =
  | { readonly ready: true; readonly detail: string }
  | { readonly ready: false; readonly reason: 'exited' | 'timeout' | 'memory' | 'aborted'; readonly detail: string };

export interface ReadyOptions {
  /** undefined: ready as soon as the process runs (plus `settleMs`). */
  readonly probe: Probe | undefined;
  readonly child: Supervised;
  readonly health: HealthPlan;
  readonly signal?: AbortSignal;
  /** Without a probe, how long the process must stay up to count as started. */
  readonly settleMs?: number;
}

function memoryCheck(health: HealthPlan, child: Supervised): (() => string | undefined) | undefined {
  if (health.maxGrowthMBps === undefined) return undefined;
  const growth = new MemoryGrowth(health.maxGrowthMBps);
  return () => growth.sample(groupRss(child.pid, child.knownDescendants()), performance.now());
}

const NOT_PROBED = 'not probed yet';
/** How long after start a new generation's memory growth starts to count. */
export const START_GRACE_MS = 100;

/** Runs a probe; undefined when it did not answer within ms (its late answer is ignored). */
async function withDeadline(probe: Probe, ms: number): Promise<ProbeResult | undefined> {
  if (ms <= 0) return undefined;
  const cancel = new AbortController();
  const late = delay(ms, undefined, { signal: cancel.signal }).catch(() => undefined);
  try {
    return await Promise.race([probe(), late]);
  } finally {
    cancel.abort();
  }
}

/**
 * Waits until a new generation passes its probe once, and fails it when it exits, grows
 * memory too fast, or does not pass within startTimeout. Probes often at first (most
 * apps are up within milliseconds), then every `interval`.
 *
 * @example
 *   const verdict = await waitUntilReady({ probe: httpProbe(...), child, health: plan.health });
 *   if (!verdict.ready) console.log(verdict.reason, verdict.detail);
 */
export async function waitUntilReady(options: ReadyOptions): Promise<Verdict> {
  const { child, health } = options;
  const started = performance.now();
  const memory = memoryCheck(health, child);
  let last = NOT_PROBED;
  // Time spent paused in a debugger (a breakpoint in start-up code) is not start-up time.
  let heldMs = 0;
  let looked = started;
  const sinceStart = () => {
    const now = performance.now();
    if (child.control?.held?.(child)) heldMs += now - looked;
    looked = now;
    return now - started - heldMs;
  };
  for (;;) {
    if (options.signal?.aborted) return { ready: false, reason: 'aborted', detail: 'a newer reload superseded it' };
    if (!(await child.spawned) || child.end !== undefined) {
      return { ready: false, reason: 'exited', detail: `${child.end ? describeEnd(child.end) : 'ended'} before it was ready` };
    }
    const waited = sinceStart();
    // A runtime's own start-up (Go's heap and stacks: ~0.4 → 6 MB in its first tens of ms)
    // is no growth: memory is sampled once the process had START_GRACE_MS.
    const grew = waited >= START_GRACE_MS ? memory?.() : undefined;
    if (grew) return { ready: false, reason: 'memory', detail: grew };
    if (options.probe === undefined) {
      if (waited >= (options.settleMs ?? 0)) return { ready: true, detail: 'started' };
    } else {
      // A probe that never answers (a hung app) must not hold the reload past startTimeout;
      // the last real answer (GET /healthz → 500) says more than that the time ran out.
      const result = await withDeadline(options.probe, health.startTimeoutMs - waited);
      if (result !== undefined) last = result.detail;
      else if (last === NOT_PROBED) last = `the probe did not answer within ${health.startTimeoutMs} ms`;
      if (result?.ok && child.end === undefined) return { ready: true, detail: result.detail };
    }
    if (sinceStart() >= health.startTimeoutMs) {
      return { ready: false, reason: 'timeout', detail: `not ready within ${health.startTimeoutMs} ms: ${last}` };
    }
    const pause = Math.min(health.intervalMs, waited < 200 ? 2 : 25, options.settleMs ? Math.max(1, options.settleMs - waited) : Infinity);
    await Promise.race([delay(pause), child.ended]);
  }
}

/**
 * After a generation took traffic: probes it every interval and reports once it failed
 * `failureThreshold` times in a row, or its memory grows too fast.
 */
export class LivenessMonitor {
  #timer: NodeJS.Timeout | undefined;
  #failures = 0;
  #busy = false;

  constructor(
    private readonly probe: Probe | undefined,
    private readonly child: Supervised,
    private readonly health: HealthPlan,
  ) {}

  start(onFailed: (detail: string) => void): void {
    const memory = memoryCheck(this.health, this.child);
    if (this.probe === undefined && memory === undefined) return;
    this.#timer = setInterval(async () => {
      if (this.#busy || this.child.end !== undefined) return;
      // Paused by a debugger: not answering is what the developer asked for.
      if (this.child.control?.held?.(this.child)) {
        this.#failures = 0;
        return;
      }
      this.#busy = true;
      try {
        const grew = memory?.();
        if (grew) return this.#fail(onFailed, grew);
        if (this.probe === undefined) return;
        const result = await this.probe();
        if (result.ok) this.#failures = 0;
        else if (++this.#failures >= this.health.failureThreshold) this.#fail(onFailed, `${this.#failures} probes failed in a row: ${result.detail}`);
      } finally {
        this.#busy = false;
      }
    }, this.health.intervalMs);
    this.#timer.unref();
  }

  #fail(onFailed: (detail: string) => void, detail: string): void {
    this.stop();
    onFailed(detail);
  }

  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
