import type { Generation } from './generation.js';
import type { Handoff, Launch } from './handoff.js';

/**
 * How traffic moves from the generation that serves to a new one that passed its health
 * gate, over the service's handoff. `instant`: the new one starts beside the old, takes
 * all new work in one step, and the old one drains, then stops. `stop-first` (restart):
 * the old one is stopped before the new one starts. A canary is a third policy: it gives
 * the new generation a share of the traffic and grows it.
 */
export interface TrafficPolicy {
  /** Before the new generation starts: stop-first stops the old one here (no route meanwhile); true when it did. */
  beforeStart(old: Generation | undefined): Promise<boolean>;
  /** The new generation passed its gate: it takes traffic, and the old one (if any) is retired. */
  takeOver(next: Generation, launch: Launch, old: Generation | undefined): void;
  /** A generation that no longer gets new work (a replaced or rolled-back canary, a stable one after promotion): drains, then stops. */
  retire(old: Generation): void;
  /** Resolves once every generation retired (by takeOver or retire) has drained and stopped. */
  drained(): Promise<void>;
}

export interface PolicyHooks {
  /** Stops a generation (signal, grace, SIGKILL). */
  stop(generation: Generation): Promise<void>;
  /** How long an old generation may finish what it holds before it is stopped. */
  drainMs(): number;
  /** An old generation drained and stopped, `ms` after it was retired. */
  onDrained(generation: Generation, ms: number): void;
  /** Draining failed unexpectedly (reported there; nothing waits on it). */
  onError(error: unknown): void;
}

/**
 * The policy a handoff implies: stop-first when it must (restart), instant otherwise.
 *
 * @example
 *   const policy = trafficPolicy(handoff, { stop: (g) => generations.stop(g), drainMs: () => plan.stop.drainMs, onDrained });
 *   await policy.beforeStart(current);
 *   policy.takeOver(next, launch, current);
 */
export function trafficPolicy(handoff: Handoff, hooks: PolicyHooks): TrafficPolicy {
  const draining = new Set<Promise<void>>();
  const route = (next: Generation, launch: Launch) => {
    launch.promote(next.child);
    handoff.route(next.n, launch);
  };
  if (handoff.stopsFirst) {
    return {
      async beforeStart(old) {
        if (old === undefined) return false;
        handoff.route(undefined, undefined);
        await hooks.stop(old);
        return true;
      },
      takeOver: (next, launch) => route(next, launch),
      retire: (old) => void hooks.stop(old).catch(hooks.onError),
      drained: async () => undefined,
    };
  }
  const drain = async (old: Generation) => {
    const started = performance.now();
    old.stopping = true;
    await handoff.retire(old.n, hooks.drainMs());
    await hooks.stop(old);
    hooks.onDrained(old, performance.now() - started);
  };
  const retire = (old: Generation) => {
    const done = drain(old)
      .catch(hooks.onError)
      .finally(() => draining.delete(done));
    draining.add(done);
  };
  return {
    beforeStart: async () => false,
    takeOver(next, launch, old) {
      route(next, launch);
      if (old !== undefined) retire(old);
    },
    retire,
    drained: async () => {
      await Promise.all(draining);
    },
  };
}
