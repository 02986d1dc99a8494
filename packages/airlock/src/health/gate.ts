import type { HealthPlan, ServicePlan } from '../config/plan.js';
import type { ErrorCode } from '../errors.js';
import type { Supervised } from '../supervise/spawn.js';
import { crashLocation, explainStartFailure, sourceAddress } from './diagnose.js';
import { waitUntilReady } from './monitor.js';
import type { Probe } from './probe.js';

/** Whether a new generation may take traffic; when not, the catalog code and what was seen, as data. */
export type GateVerdict = { readonly ready: true; readonly detail: string } | { readonly ready: false; readonly code: ErrorCode; readonly detail: string };

export interface GateOptions {
  readonly plan: Pick<ServicePlan, 'listen' | 'handoff' | 'dir' | 'go' | 'preset'> & { readonly health: HealthPlan };
  readonly child: Supervised;
  readonly probe: Probe | undefined;
  readonly settleMs: number;
  /** Aborted when airlock stops: the gate gives up at once. */
  readonly signal?: AbortSignal;
}

/**
 * The health gate of a new generation: it is ready once its probe passed (or, without
 * one, it stayed up for settleMs); otherwise the verdict says why in the catalog's terms:
 * HEALTH_FAILED (its probe never passed), START_TIMEOUT (no probe, and it never counted
 * as started), MEMORY_GROWTH, PORT_CONFLICT (it exited because an address it binds is in
 * use: usually the listen address airlock holds), PROCESS_CRASHED (it exited before it
 * was ready) or START_FAILED (it could not even be started).
 *
 * @example
 *   const verdict = await healthGate({ plan, child, probe, settleMs: 0 });
 *   if (!verdict.ready) report(verdict.code, verdict.detail);
 */
export async function healthGate(options: GateOptions): Promise<GateVerdict> {
  const { plan, child } = options;
  const verdict = await waitUntilReady({ probe: options.probe, child, health: plan.health, settleMs: options.settleMs, signal: options.signal });
  if (verdict.ready) return verdict;
  switch (verdict.reason) {
    case 'timeout':
      return { ready: false, code: plan.health.probe ? 'HEALTH_FAILED' : 'START_TIMEOUT', detail: verdict.detail };
    case 'memory':
      return { ready: false, code: 'MEMORY_GROWTH', detail: verdict.detail };
    case 'aborted':
      return { ready: false, code: 'START_FAILED', detail: verdict.detail };
    case 'exited': {
      const tail = child.tail();
      const why = explainStartFailure(plan, tail, () => sourceAddress(plan));
      if (why !== undefined) return { ready: false, code: 'PORT_CONFLICT', detail: `${verdict.detail}: ${why}` };
      // A crash at start names the place in the project its stack points at (the ✗ line, like a build error's).
      const where = crashLocation(tail, plan.dir);
      return { ready: false, code: (await child.spawned) ? 'PROCESS_CRASHED' : 'START_FAILED', detail: `${verdict.detail}${where ? ` at ${where}` : ''}` };
    }
  }
}
