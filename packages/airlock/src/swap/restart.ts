import type { ServicePlan } from '../config/plan.js';
import { waitForPort, type ReadyOutcome } from '../health/port.js';
import { stopProcess, type StopResult } from '../supervise/stop.js';
import type { Generation } from './generation.js';

export interface SwapTimings {
  stop?: number;
  start?: number;
  ready?: number;
}

export interface SwapResult {
  readonly outcome: ReadyOutcome;
  readonly next: Generation;
  readonly timings: SwapTimings;
  readonly stopped: StopResult | undefined;
}

/** Stops a generation with the service's stop signal and grace period. */
export function stopGeneration(plan: ServicePlan, generation: Generation): Promise<StopResult> {
  generation.stopping = true;
  return stopProcess(generation.child, { signal: plan.stop.signal, timeoutMs: plan.stop.timeoutMs });
}

/**
 * The `restart` handoff: stop the old generation completely (so its port is free), then
 * start the new one and wait until it is ready. This is what air, reflex and nodemon do;
 * unlike them it only runs after a good build, so a failed build never stops anything.
 * Ready means: accepts TCP connections on `listen`, or simply started when the service
 * serves nothing.
 *
 * @example
 *   const { outcome, next } = await restartSwap(plan, current, () => startGeneration(plan, n, artifact, onLine));
 */
export async function restartSwap(
  plan: ServicePlan,
  old: Generation | undefined,
  start: () => Generation,
  signal?: AbortSignal,
): Promise<SwapResult> {
  const timings: SwapTimings = {};
  let mark = performance.now();
  let stopped: StopResult | undefined;
  // Also when it already crashed: descendants it left may still hold the port.
  if (old !== undefined) {
    stopped = await stopGeneration(plan, old);
    timings.stop = performance.now() - mark;
    mark = performance.now();
  }
  const next = start();
  timings.start = performance.now() - mark;
  mark = performance.now();
  let outcome: ReadyOutcome = (await next.child.spawned) ? 'ready' : 'exited';
  if (outcome === 'ready' && plan.listen) {
    outcome = await waitForPort({
      host: plan.listen.host,
      port: plan.listen.port,
      timeoutMs: plan.startTimeoutMs,
      exited: next.child.ended,
      signal,
    });
  }
  timings.ready = performance.now() - mark;
  return { outcome, next, timings, stopped };
}
