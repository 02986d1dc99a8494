import type { IncomingMessage } from 'node:http';
import type { Backend } from './backends.js';

/** The header a tester sends to force a side of a rollout; never forwarded to the app. */
export const FORCE_HEADER = 'x-airlock-canary';
/** With rollout.force: token, the secret that allows forcing; never forwarded to the app. */
export const FORCE_TOKEN_HEADER = 'x-airlock-canary-token';

/** Where one request goes while a split is on, and what its response must carry (a cookie that keeps the user on one side). */
export interface SplitChoice {
  readonly canary: boolean;
  /** The side was forced (an operator's test request): its answer never counts toward a verdict. */
  readonly forced?: boolean;
  /** Set-Cookie values to add to the response. */
  readonly setCookie?: string;
}

/**
 * A rollout's split of requests between the stable generation (the proxy's active
 * backend) and a canary. The proxy asks it for every request while it is set; how users
 * are keyed and bucketed is the rollout's business (rollout/split.ts).
 *
 * @example
 *   proxy.setSplit({ canary: { generation: 5, host: '127.0.0.1', port: 41800 }, choose: (req) => ({ canary: req.headers['x-airlock-canary'] === 'always' }) });
 */
export interface TrafficSplit {
  readonly canary: Backend;
  choose(req: IncomingMessage): SplitChoice;
  /**
   * How the same split is made again in another process (proxy workers): a module that
   * exports `splitFromPortable(data, canary)`, and the data it needs (structured-cloneable,
   * read again at each change). A split without it keeps a service's proxy in one process.
   */
  portable?(): PortableSplit;
}

/** A split as data, for proxy workers: see TrafficSplit.portable. */
export interface PortableSplit {
  /** A file: URL of a module exporting `splitFromPortable(data: unknown, canary: Backend): TrafficSplit`. */
  readonly module: string;
  readonly data: unknown;
}
