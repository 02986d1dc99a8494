import type { ServicePlan } from '../config/plan.js';
import { asAirlockError, fullCode } from '../errors.js';
import type { EventBus } from '../events.js';
import type { ServiceRunner } from '../pipeline/runner.js';

/** What a reshape needs of the daemon: make a runner, put it in the service's place, retire one. */
export interface ReshapeContext {
  readonly bus: EventBus;
  /** A runner for `plan`, numbering its generations on from `from`. */
  runner(plan: ServicePlan, from: number): ServiceRunner;
  /** The runner that serves the service from now on (its changes and commands go there). */
  install(runner: ServiceRunner): void;
  /** Whether `runner` still holds the service's place (no later edit replaced it). */
  holds(runner: ServiceRunner): boolean;
  /** Stops a runner that no longer holds the place (kept until then for daemon.stop). */
  retire(runner: ServiceRunner): Promise<void>;
  /** Starts an installed runner (dependsOn, app config first), in the background. */
  start(runner: ServiceRunner): void;
  /** `old` serves until `fresh` is ready; it is retired then, or with `fresh` should that go first. */
  handOver(fresh: ServiceRunner, old: ServiceRunner): void;
}

function address(plan: ServicePlan): string {
  return plan.listen ? `${plan.listen.host}:${plan.listen.port}` : 'no address';
}

/** Two plans whose addresses cannot be held at once (the same port, or none). */
function sameAddress(a: ServicePlan, b: ServicePlan): boolean {
  return a.listen === undefined || b.listen === undefined || a.listen.port === b.listen.port;
}

/** The service's first start outcome from now on: ready, or the first start that failed. */
function firstOutcome(bus: EventBus, service: string): Promise<{ ready: true } | { ready: false; code: string; message: string }> {
  return new Promise((resolve) => {
    const unsubscribe = bus.subscribe((event) => {
      if (event.service !== service) return;
      if (event.type === 'reload.ready') resolve({ ready: true });
      else if (event.type === 'reload.failed') resolve({ ready: false, code: event.code, message: event.message });
      else return;
      unsubscribe();
    }, 'a reshape');
  });
}

/**
 * Applies an edit of a running service's `listen` or `handoff` without a moment where no
 * version works. A new address is opened first (a port held by another program, or a
 * host that is not this machine's, is refused there, and the edit is not applied: the old
 * version keeps serving); then the new shape starts beside the old one, which stops only
 * once the new one is ready. Two shapes that cannot hold their addresses at once (the same
 * port, a handoff changed in place) take turns: the old stops, the new starts, and if the
 * new one cannot open its address or its first start fails, the old shape is put back.
 *
 * @example
 *   await reshape(context, runningApi, editedPlan); // the runner that now holds the place
 */
export async function reshape(context: ReshapeContext, old: ServiceRunner, plan: ServicePlan): Promise<void> {
  const { bus } = context;
  const oldPlan = old.plan;
  const service = plan.name;
  const fresh = context.runner(plan, old.generation);
  if (!sameAddress(oldPlan, plan)) {
    try {
      await fresh.open();
    } catch (error) {
      await fresh.stop();
      const serving = old.current ? `g${old.current.n} keeps serving on ${address(oldPlan)}` : `the service stays on ${address(oldPlan)}`;
      const failure = asAirlockError(error);
      bus.emit({ type: 'error', service, code: fullCode(failure.code), message: `${failure.message}; the edit of listen/handoff is not applied: ${serving}. Fix airlock.yaml and save again` });
      return;
    }
    context.install(fresh);
    context.start(fresh);
    // The old shape serves until the new one is ready.
    context.handOver(fresh, old);
    return;
  }
  await context.retire(old);
  context.install(fresh);
  const outcome = firstOutcome(bus, service);
  try {
    await fresh.open();
  } catch (error) {
    const failure = asAirlockError(error);
    return putBack(context, fresh, oldPlan, plan, fullCode(failure.code), failure.message);
  }
  context.start(fresh);
  // Judged in the background: the first start may wait on a build.
  void outcome.then(async (first) => {
    if (!first.ready && context.holds(fresh)) await putBack(context, fresh, oldPlan, plan, first.code, first.message);
  });
}

/** `code`: the catalog code of what failed, in full (AIRLOCK_ERR_…). */
async function putBack(context: ReshapeContext, failed: ServiceRunner, oldPlan: ServicePlan, plan: ServicePlan, code: string, why: string): Promise<void> {
  await context.retire(failed);
  const restored = context.runner(oldPlan, failed.generation);
  context.install(restored);
  context.start(restored);
  const shape = `handoff: ${plan.handoff}${plan.listen ? ` on ${address(plan)}` : ''}`;
  context.bus.emit({
    type: 'error',
    service: plan.name,
    code,
    message: `${shape} could not serve (${why}): the previous shape (handoff: ${oldPlan.handoff} on ${address(oldPlan)}) is put back. Fix airlock.yaml and save again`,
  });
}
