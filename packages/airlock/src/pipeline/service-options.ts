import type { BuildSlots } from '../build/slots.js';
import type { ProxyExtensions } from '../proxy/extensions.js';
import type { SpawnHook } from '../swap/generation.js';
import type { SourceFactory } from './artifact-source.js';

/** How a ServiceRunner is set up, besides its plan and bus (all optional). */
export interface ServiceOptions {
  /** Shared across services: how many builds may run at once. */
  readonly slots?: BuildSlots;
  /** Give each reload a W3C trace context (reload.started) and each generation its TRACEPARENT. */
  readonly traceContext?: boolean;
  /**
   * airlock dev (the default): Go plugin packages are watched, and any client may force a
   * rollout side unless rollout.force says otherwise. false (airlock run, agent): plugins
   * are only built with each generation, and forcing is off by default.
   */
  readonly dev?: boolean;
  /** The control socket, for the app's plugin host to hear of plugin changes on. */
  readonly controlSocket?: string;
  /** Where new artifacts come from (default: the service's builds, in `slots`). */
  readonly source?: SourceFactory;
  /**
   * The newest generation number a runner this one replaces gave out (an airlock.yaml edit
   * of the address or handoff): numbers go on from it, so g15 is followed by g16, not g1.
   */
  readonly generationsFrom?: number;
  /** Adjust each generation's spawn before it happens (swap/generation.ts SpawnHook): a debugger, an inspector. */
  readonly spawnHooks?: readonly SpawnHook[];
  /** handoff: proxy — response interceptors and airlock's own routes given to its proxy (live reload). */
  readonly proxy?: ProxyExtensions;
}
