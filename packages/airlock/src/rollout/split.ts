import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { RolloutKey, RolloutPlan } from '../config/plan.js';
import type { Backend } from '../proxy/backends.js';
import { FORCE_HEADER, type SplitChoice, type TrafficSplit } from '../proxy/split.js';
import { bucketOf, onCanary } from './bucket.js';

/** The cookie that keeps a user without a key on one side. */
export const UID_COOKIE = 'airlock_uid';
/** A year: the user stays on one side for as long as rollouts use this group. */
const UID_MAX_AGE = 365 * 24 * 3600;

/** The value of one cookie in a Cookie header (RFC 6265 §5.4: `name=value` pairs joined by "; "). */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (const pair of header.split(';')) {
    const eq = pair.indexOf('=');
    if (eq > 0 && pair.slice(0, eq).trim() === name) {
      const value = pair.slice(eq + 1).trim();
      return value.startsWith('"') && value.endsWith('"') && value.length >= 2 ? value.slice(1, -1) : value;
    }
  }
  return undefined;
}

/** The key of one request, or undefined when it has none (a header or cookie missing). */
export function keyOf(req: IncomingMessage, key: RolloutKey): string | undefined {
  switch (key.kind) {
    case 'header': {
      const value = req.headers[key.name];
      return Array.isArray(value) ? value[0] : value;
    }
    case 'cookie':
      return cookieValue(req.headers.cookie, key.name);
    case 'ip':
      return req.socket.remoteAddress;
    case 'random':
      return cookieValue(req.headers.cookie, UID_COOKIE);
  }
}

/**
 * The split of one rollout: a request goes to the canary when its key's bucket is at or
 * below the share, or when it says `x-airlock-canary: always` (`never` keeps it on the
 * stable side). A request without its key goes to the stable side; with `key` unset, a
 * user without the airlock_uid cookie gets one (a random id) and is bucketed by it.
 *
 * @example
 *   const split = new BucketSplit(plan.rollout, 'api', { generation: 5, host: '127.0.0.1', port: 41800 });
 *   split.share = 10;
 *   proxy.setSplit(split);
 */
export class BucketSplit implements TrafficSplit {
  /** Percent of users on the canary (0..100). */
  share = 0;

  constructor(
    private readonly plan: Pick<RolloutPlan, 'key' | 'bucketing'>,
    readonly group: string,
    readonly canary: Backend,
  ) {}

  choose(req: IncomingMessage): SplitChoice {
    const forced = req.headers[FORCE_HEADER];
    if (forced === 'always') return { canary: true };
    if (forced === 'never') return { canary: false };
    let key = keyOf(req, this.plan.key);
    let setCookie: string | undefined;
    if (key === undefined && this.plan.key.kind === 'random') {
      key = randomUUID();
      setCookie = `${UID_COOKIE}=${key}; Path=/; Max-Age=${UID_MAX_AGE}; HttpOnly; SameSite=Lax`;
    }
    const canary = key !== undefined && this.share > 0 && onCanary(bucketOf(key, this.group, this.plan.bucketing), this.share, this.plan.bucketing);
    return setCookie === undefined ? { canary } : { canary, setCookie };
  }
}
