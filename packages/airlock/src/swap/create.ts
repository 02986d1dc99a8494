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
  /** handoff: proxy and tcp-proxy — processes serving it (1: airlock's own alone); see proxyWorkers(). */
  readonly proxyWorkers?: number;
}

/** At most this many proxy processes by default: past it, the app and the kernel are the limit, not the proxy. */
const AUTO_WORKERS_CAP = 4;

/**
 * How many processes serve a service's proxy: proxy.workers, or for auto half the
 * machine's cores (at most 4: the app behind needs the rest; measured in BENCHMARKS.md,
 * a second proxy process on a 2-core machine the app shares costs throughput) where
 * airlock serves for real (run, agent), and 1 while developing (airlock dev: a laptop's
 * proxy is never the bottleneck, and each worker is a Node process). Live reload
 * rewrites pages in airlock's own process: always 1.
 *
 * @example
 *   proxyWorkers(plan, { dev: false, cores: 8 }); // 4 with proxy.workers: auto
 */
export function proxyWorkers(plan: ServicePlan, { dev, cores }: { dev: boolean; cores: number }): number {
  if (plan.proxy.liveReload) return 1;
  if (plan.proxy.workers !== 'auto') return plan.proxy.workers;
  return dev ? 1 : Math.max(1, Math.min(Math.floor(cores / 2), AUTO_WORKERS_CAP));
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
