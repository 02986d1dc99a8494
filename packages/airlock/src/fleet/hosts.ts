import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { NatsLocation } from '../config/release-location.js';
import { bucketNames, ttlBucket } from '../release/nats/buckets.js';
import type { KV } from '@nats-io/kv';
import { heartbeatSchema, type Heartbeat } from './heartbeat.js';

/**
 * The heartbeats in a repository's hosts bucket (of one service, or all): only those in
 * the shape agents write; the bucket's TTL has already dropped the hosts that went quiet.
 *
 * @example
 *   const beats = await readHeartbeats(bucket, await jetstreamManager(nc), bucketNames('releases').hosts, 'web');
 */
export async function readHeartbeats(bucket: KV, jsm: JetStreamManager, bucketName: string, service?: string): Promise<Heartbeat[]> {
  // The keys from the stream's subjects (one request to the stream's leader), not from
  // kv.keys(): that takes a consumer, and on a cluster that just lost a node one is often
  // placed on the node that is gone (then it times out).
  const prefix = `$KV.${bucketName}.`;
  const info = await jsm.streams.info(`KV_${bucketName}`, { subjects_filter: `${prefix}${service === undefined ? '>' : `${service}.>`}` });
  const keys = Object.keys(info.state.subjects ?? {}).map((subject) => subject.slice(prefix.length));
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

/** How a controller or `fleet status` reads a repository's heartbeats, over its connection. */
export async function heartbeatReader(nc: NatsConnection, location: NatsLocation): Promise<(service?: string) => Promise<Heartbeat[]>> {
  const bucket = await ttlBucket(nc, location, 'hosts');
  const jsm = await jetstreamManager(nc);
  const name = bucketNames(location.repo).hosts;
  return (service) => readHeartbeats(bucket, jsm, name, service);
}
