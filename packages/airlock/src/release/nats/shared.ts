import type { NatsConnection } from '@nats-io/transport-node';
import type { NatsLocation } from '../../config/release-location.js';
import { openRepository, type RepositoryBuckets } from './buckets.js';
import { connectNats } from './connection.js';

interface Shared {
  readonly nc: Promise<NatsConnection>;
  buckets: Promise<RepositoryBuckets> | undefined;
}

/** One connection per server list and user in this process: every service of an agent, its heartbeats and its watches share it. */
const connections = new Map<string, Shared>();

function keyOf(location: NatsLocation): string {
  return JSON.stringify([location.servers, location.tls, location.user ?? '', location.token ?? '']);
}

function shared(location: NatsLocation, name: string, waitForServer: boolean): Shared {
  const key = keyOf(location);
  let entry = connections.get(key);
  if (entry === undefined) {
    const nc = connectNats(location, { name, waitForServer });
    // A failed connect is not kept: the next use tries again.
    nc.catch(() => connections.delete(key));
    entry = { nc, buckets: undefined };
    connections.set(key, entry);
  }
  return entry;
}

/**
 * The process's connection to a location's servers, made on first use. It reconnects by
 * itself (to any server of the cluster) for as long as the process runs: an agent started
 * before NATS (`waitForServer`), or one whose server went away, carries on once one is back.
 *
 * @example
 *   const nc = await natsConnection(location, 'airlock agent');
 */
export function natsConnection(location: NatsLocation, name: string, waitForServer = true): Promise<NatsConnection> {
  return shared(location, name, waitForServer).nc;
}

/**
 * The repository's metadata and target buckets over the shared connection (opened once;
 * a failure is tried again next time). `waitForServer`: an agent keeps trying until a
 * server answers; a command (false) fails at once with NATS_UNREACHABLE.
 */
export function sharedRepository(location: NatsLocation, name: string, waitForServer = true): Promise<RepositoryBuckets> {
  const entry = shared(location, name, waitForServer);
  const buckets = entry.buckets ?? entry.nc.then((nc) => openRepository(nc, location, { create: false }));
  entry.buckets = buckets;
  buckets.catch(() => {
    if (entry.buckets === buckets) entry.buckets = undefined;
  });
  return buckets;
}

/** Closes every shared connection (airlock stops; a CLI command is done). */
export async function closeNatsConnections(): Promise<void> {
  const all = [...connections.values()];
  connections.clear();
  await Promise.all(all.map((entry) => entry.nc.then((nc) => nc.close()).catch(() => undefined)));
}
