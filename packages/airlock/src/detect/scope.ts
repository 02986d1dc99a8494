import type { ServicePlan } from '../config/plan.js';

/** What one detector watches, and for which services. */
export interface WatchScope {
  readonly services: readonly string[];
  /** What is watched; how a change then meets a build under way (onBusy) is each service's. */
  readonly watch: Omit<ServicePlan['watch'], 'onBusy' | 'pollMs' | 'restartOnly'> & { readonly pollMs?: number };
  /** Per service, the globs (relative to the root) whose changes only restart it (watch.restartOnly). */
  readonly restartOnly: Readonly<Record<string, readonly string[]>>;
}

/** One service's own scope. */
export function serviceScope(plan: ServicePlan): WatchScope {
  const { onBusy: _busy, restartOnly, ...watch } = plan.watch;
  return { services: [plan.name], watch, restartOnly: { [plan.name]: restartOnly } };
}

/**
 * The services of one Go module watch as one: the union of their inputs, their shortest debounce.
 *
 * @example
 *   moduleScope([api, worker]); // { services: ['api', 'worker'], watch: { include: [...both], ... } }
 */
export function moduleScope(plans: readonly ServicePlan[]): WatchScope {
  const first = plans[0] as ServicePlan;
  const everyone = (glob: string) => plans.every((plan) => plan.watch.exclude.includes(glob));
  return {
    services: plans.map((plan) => plan.name),
    watch: {
      root: first.watch.root,
      include: [...new Set(plans.flatMap((plan) => plan.watch.include))],
      exclude: first.watch.exclude.filter(everyone),
      debounceMs: Math.min(...plans.map((plan) => plan.watch.debounceMs)),
      gitignore: plans.every((plan) => plan.watch.gitignore),
      // One service of the module on a file system without events makes the module poll (the fastest asked for).
      pollMs: plans.some((plan) => plan.watch.pollMs !== undefined) ? Math.min(...plans.map((plan) => plan.watch.pollMs ?? Infinity)) : undefined,
    },
    restartOnly: Object.fromEntries(plans.map((plan) => [plan.name, plan.watch.restartOnly])),
  };
}
