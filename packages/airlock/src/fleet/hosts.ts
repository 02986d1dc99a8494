import type { KV } from '@nats-io/kv';
import { heartbeatSchema, type Heartbeat } from './heartbeat.js';

/**
 * The heartbeats in a repository's hosts bucket (of one service, or all): only those in
 * the shape agents write; the bucket's TTL has already dropped the hosts that went quiet.
 *
 * @example
 *   const beats = await readHeartbeats(bucket, 'web');
 */
export async function readHeartbeats(bucket: KV, service?: string): Promise<Heartbeat[]> {
  const keys: string[] = [];
  for await (const key of await bucket.keys(service === undefined ? '>' : `${service}.>`)) keys.push(key);
  const beats: Heartbeat[] = [];
  for (const key of keys) {
    const entry = await bucket.get(key);
    if (entry === null || entry.operation !== 'PUT') continue;
    try {
      const parsed = heartbeatSchema.safeParse(JSON.parse(entry.string()));
      if (parsed.success) beats.push(parsed.data);
    } catch {
      // Not JSON: not an agent's.
    }
  }
  return beats.sort((a, b) => a.host.localeCompare(b.host));
}
