import type { ServicePlan } from '../config/plan.js';
import type { Generation } from '../swap/generation.js';
import type { RolloutStatus } from '../rollout/canary.js';

/** A service as `airlock status` reports it. */
export interface ServiceStatus {
  readonly name: string;
  readonly handoff: string;
  readonly listen: string | undefined;
  /** waiting (for dependsOn), building, starting, ready, down (crashed, retrying), stopped. */
  readonly state: 'waiting' | 'building' | 'starting' | 'ready' | 'down' | 'stopped';
  /** The generation that takes traffic, and its pid while it runs. */
  readonly generation: number | undefined;
  readonly pid: number | undefined;
  readonly uptimeMs: number | undefined;
  readonly starting: readonly { generation: number; pid: number }[];
  readonly draining: readonly { generation: number; pid: number }[];
  /** The last app config change refused (file:line: message), until a valid one arrives (the daemon adds it). */
  readonly configRejected?: string;
  /** The last reload that failed (its message and code), until a generation is ready again. */
  readonly lastFailure?: string;
  /** The rollout in progress, or the last one (rollout.strategy: canary). */
  readonly rollout?: RolloutStatus;
}

/**
 * What `airlock status` shows for one service, from its state and generations.
 *
 * @example
 *   serviceStatus(plan, 'ready', current, generations.others(current));
 */
export function serviceStatus(
  plan: ServicePlan,
  state: ServiceStatus['state'],
  current: Generation | undefined,
  others: { readonly starting: readonly Generation[]; readonly draining: readonly Generation[] },
): ServiceStatus {
  const running = current !== undefined && current.child.end === undefined;
  const brief = (g: Generation) => ({ generation: g.n, pid: g.child.pid });
  return {
    name: plan.name,
    handoff: plan.handoff,
    listen: plan.listen ? `${plan.listen.host}:${plan.listen.port}` : undefined,
    state,
    generation: current?.n,
    pid: running ? current.child.pid : undefined,
    uptimeMs: running && current.promotedAt !== undefined ? Math.round(performance.now() - current.promotedAt) : undefined,
    starting: others.starting.map(brief),
    draining: others.draining.map(brief),
  };
}
