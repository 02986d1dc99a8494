import type { ServicePlan } from '../config/plan.js';
import { bareRestart, type Handoff, type ProbeFactory } from './handoff.js';
import { ProxyHandoff } from './proxy-handoff.js';
import type { ProxyExtensions } from '../proxy/extensions.js';
import { SocketHandoff } from './socket-handoff.js';

export interface HandoffHooks {
  readonly probeFor: ProbeFactory;
  readonly onProxyError: (message: string) => void;
  /** Whether proxy responses carry x-airlock-generation now (rollout.debugHeaders of the plan in force). */
  readonly debugHeaders?: () => boolean;
  /** Something the user should hear at the default verbosity (long-lived connections draining). */
  readonly onNotice?: (message: string) => void;
  /** handoff: proxy — response interceptors and airlock's own routes (live reload). */
  readonly proxyExtensions?: ProxyExtensions;
}

/** The handoff strategy a service's plan asks for (see docs/strategies.md). */
export function createHandoff(plan: ServicePlan, hooks: HandoffHooks): Handoff {
  switch (plan.handoff) {
    case 'fd':
      return new SocketHandoff(plan, 'fd', hooks.probeFor);
    case 'restart':
      return plan.listen ? new SocketHandoff(plan, 'restart', hooks.probeFor) : bareRestart(hooks.probeFor);
    case 'proxy':
    case 'tcp-proxy':
      return new ProxyHandoff(plan, plan.handoff, hooks);
  }
}
