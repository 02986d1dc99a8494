import murmurhash from 'murmurhash';

/** airlock: 10,000 buckets (a share to 0.01 %); unleash: Unleash's flexibleRollout normalisation, 100 buckets. */
export type Bucketing = 'airlock' | 'unleash';

export const BUCKETS: Readonly<Record<Bucketing, number>> = { airlock: 10_000, unleash: 100 };

/**
 * The bucket a key falls in for a rollout group: MurmurHash3 x86_32 (seed 0) over the
 * UTF-8 bytes of `"<group>:<key>"`, then `(hash mod N) + 1`, N = 10,000 (airlock) or 100
 * (unleash, so a team that rolls out with Unleash gets the same cohorts). A key is on the
 * canary while its bucket is at or below the share (percent × N / 100): growing the share
 * only adds keys, and a key lands on the same side on every machine and after a restart.
 * The bytes are UTF-8 on purpose: hashing UTF-16 code units gives other buckets for
 * non-ASCII keys than the Unleash SDKs of other languages.
 *
 * @example
 *   bucketOf('123', 'gr1', 'unleash'); // 73, as Unleash documents
 *   bucketOf('user-42', 'api');        // 1..10000
 */
export function bucketOf(key: string, group: string, bucketing: Bucketing = 'airlock'): number {
  const hash = murmurhash.v3(Buffer.from(`${group}:${key}`, 'utf8'), 0);
  return (hash % BUCKETS[bucketing]) + 1;
}

/** Whether a bucket is on the canary side at `percent` (0..100, steps of 0.01). */
export function onCanary(bucket: number, percent: number, bucketing: Bucketing = 'airlock'): boolean {
  return bucket <= Math.round((percent * BUCKETS[bucketing]) / 100);
}
