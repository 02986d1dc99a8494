import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { RolloutKey, RolloutPlan } from '../config/plan.js';
import type { Backend } from '../proxy/backends.js';
import { FORCE_HEADER, FORCE_TOKEN_HEADER, type PortableSplit, type SplitChoice, type TrafficSplit } from '../proxy/split.js';
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

/**
 * A header value as the client sent it: Node gives header bytes as Latin-1 characters, so
 * `müller` sent as UTF-8 arrives as `mÃ¼ller`; its bytes, read as UTF-8, are the key the
 * user (and `airlock rollout bucket`, and Unleash) hash.
 */
function sentText(value: string): string {
  return Buffer.from(value, 'latin1').toString('utf8');
}

/** The key of one request, or undefined when it has none (a header or cookie missing). */
export function keyOf(req: IncomingMessage, key: RolloutKey): string | undefined {
  switch (key.kind) {
    case 'header': {
      const value = req.headers[key.name];
      const first = Array.isArray(value) ? value[0] : value;
      return first === undefined ? undefined : sentText(first);
    }
    case 'cookie': {
      const value = cookieValue(req.headers.cookie, key.name);
      return value === undefined ? undefined : sentText(value);
    }
    case 'ip':
      return req.socket.remoteAddress;
    case 'random':
      return cookieValue(req.headers.cookie, UID_COOKIE);
  }
}

/** Who may force a side: nobody, any client (airlock dev's default), or a client with the token. */
export type ForceMode = 'off' | 'header' | 'token';

/** Compares two secrets in constant time, whatever their lengths (both are hashed first). */
function sameSecret(given: string, expected: string): boolean {
  const digest = (text: string) => createHash('sha256').update(text).digest();
  return timingSafeEqual(digest(given), digest(expected));
}

/**
 * The split of one rollout: a request goes to the canary when its key's bucket is at or
 * below the share. Where the operator allows it (`force`), `x-airlock-canary: always`
 * sends a request to the canary and `never` to the stable side (with `force: token`, only
 * with `x-airlock-canary-token` set to the secret); such answers are marked forced and
 * never judged. A request without its key goes to the stable side; with `key` unset, a
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
    private readonly force: { readonly mode: ForceMode; readonly token?: string } = { mode: 'off' },
  ) {}

  /** The side a request forces, when forcing is allowed for it. */
  #forced(req: IncomingMessage): 'always' | 'never' | undefined {
    const asked = req.headers[FORCE_HEADER];
    if ((asked !== 'always' && asked !== 'never') || this.force.mode === 'off') return undefined;
    if (this.force.mode === 'header') return asked;
    const token = req.headers[FORCE_TOKEN_HEADER];
    return typeof token === 'string' && this.force.token !== undefined && sameSecret(token, this.force.token) ? asked : undefined;
  }

  choose(req: IncomingMessage): SplitChoice {
    const forced = this.#forced(req);
    if (forced !== undefined) return { canary: forced === 'always', forced: true };
    let key = keyOf(req, this.plan.key);
    let setCookie: string | undefined;
    if (key === undefined && this.plan.key.kind === 'random') {
      key = randomUUID();
      setCookie = `${UID_COOKIE}=${key}; Path=/; Max-Age=${UID_MAX_AGE}; HttpOnly; SameSite=Lax`;
    }
    const canary = key !== undefined && this.share > 0 && onCanary(bucketOf(key, this.group, this.plan.bucketing), this.share, this.plan.bucketing);
    return setCookie === undefined ? { canary } : { canary, setCookie };
  }

  /** The same split in a proxy worker process: every worker buckets a key alike, so a user stays on one side whichever worker answers. */
  portable(): PortableSplit {
    const data: PortableBucketSplit = { key: this.plan.key, bucketing: this.plan.bucketing, group: this.group, force: this.force, share: this.share };
    return { module: import.meta.url, data };
  }
}

interface PortableBucketSplit {
  readonly key: RolloutKey;
  readonly bucketing: RolloutPlan['bucketing'];
  readonly group: string;
  readonly force: { readonly mode: ForceMode; readonly token?: string };
  readonly share: number;
}

/** BucketSplit.portable() made into a split again (in a proxy worker). */
export function splitFromPortable(data: unknown, canary: Backend): TrafficSplit {
  const { key, bucketing, group, force, share } = data as PortableBucketSplit;
  const split = new BucketSplit({ key, bucketing }, group, canary, force);
  split.share = share;
  return split;
}
