import { Kvm, type KV } from '@nats-io/kv';
import { Objm, type ObjectStore } from '@nats-io/obj';
import type { NatsConnection } from '@nats-io/transport-node';
import { AirlockError } from '../../errors.js';
import type { NatsLocation } from '../../config/release-location.js';

/** How many values of one key JetStream keeps (its maximum): timestamp.json's history is the channel's log. */
export const META_HISTORY = 64;

/** The JetStream names of one repository's buckets (letters, digits, '_' and '-' only). */
export function bucketNames(repo: string) {
  return {
    /** TUF metadata, one key per file (1.root.json, timestamp.json, 3.targets.json …). */
    meta: `airlock_${repo}_meta`,
    /** Target files, by the path the TUF client asks for (web/stable/3/<sha256>.app). */
    targets: `airlock_${repo}_targets`,
    /** Agents' heartbeats, one key per service and host, removed by the bucket's TTL. */
    hosts: `airlock_${repo}_hosts`,
    /** The fleet controller's lease, one key per service and channel, removed by the bucket's TTL. */
    lease: `airlock_${repo}_lease`,
  };
}

/** JetStream's errors said so a user knows what to do (no JetStream, a missing repository). */
export function natsFailure(location: NatsLocation, doing: string, error: unknown): AirlockError {
  if (error instanceof AirlockError) return error;
  const message = (error as Error).message ?? String(error);
  if (/jetstream not enabled|no responders|503/i.test(message)) {
    return new AirlockError('NATS_SERVER', `${location.display}: ${doing}: JetStream is not enabled on the server (${message}); start nats-server with -js`, { cause: error });
  }
  if (/permission/i.test(message)) return new AirlockError('NATS_UNREACHABLE', `${location.display}: ${doing}: the server refused it: ${message}; check this user's permissions (docs/fleet.md)`, { cause: error });
  return new AirlockError('NATS_UNREACHABLE', `${location.display}: ${doing}: ${message}`, { cause: error });
}

function missing(error: unknown): boolean {
  return /not found|does not exist/i.test((error as Error).message ?? '');
}

/** A repository's metadata and target buckets. */
export interface RepositoryBuckets {
  readonly meta: KV;
  readonly targets: ObjectStore;
}

/**
 * Opens a repository's buckets; with `create`, makes them first (`airlock release init`)
 * and reads their settings back, so a server that silently changed one is caught.
 * A repository that is not there is RELEASE_REPO, saying how to make it.
 *
 * @example
 *   const { meta, targets } = await openRepository(nc, location, { create: false });
 */
export async function openRepository(nc: NatsConnection, location: NatsLocation, { create, replicas = 1 }: { create: boolean; replicas?: number }): Promise<RepositoryBuckets> {
  const names = bucketNames(location.repo);
  const kvm = new Kvm(nc);
  const objm = new Objm(nc);
  try {
    if (create) {
      const meta = await kvm.create(names.meta, { history: META_HISTORY, replicas });
      const status = await meta.status();
      if (status.history !== META_HISTORY || status.replicas !== replicas) {
        throw new AirlockError('NATS_SERVER', `${location.display}: bucket ${names.meta} has history ${status.history} and ${status.replicas} replica(s), not the ${META_HISTORY} and ${replicas} asked for; it may exist with other settings: remove it (nats kv rm ${names.meta}) or choose another repository name`);
      }
      const targets = await objm.create(names.targets, { replicas });
      return { meta, targets };
    }
    const meta = await kvm.open(names.meta, { bindOnly: true });
    await meta.status();
    const targets = await objm.open(names.targets);
    return { meta, targets };
  } catch (error) {
    if (!create && missing(error)) {
      throw new AirlockError('RELEASE_REPO', `${location.display}: there is no repository ${location.repo} on this server (bucket ${names.meta} not found); create it with \`airlock release init ${location.display} --keys KEYDIR\``, { cause: error });
    }
    throw natsFailure(location, create ? 'creating the repository' : 'opening the repository', error);
  }
}

/** How long a key of a TTL bucket lives unrenewed: a heartbeat (a host gone drops out), a lease (a holder killed frees it). */
export const BUCKET_TTL_MS = { hosts: 15_000, lease: 10_000 } as const;

/**
 * A bucket with a TTL beside the repository (heartbeats, leases). `release init` makes
 * both, with as many replicas as the metadata has, so agents and controllers only open
 * them (and need no right to create streams); a repository made before fleets gets them
 * on first use, and a TTL that is not ours is said, not used.
 */
export async function ttlBucket(nc: NatsConnection, location: NatsLocation, which: 'hosts' | 'lease'): Promise<KV> {
  const kvm = new Kvm(nc);
  const name = bucketNames(location.repo)[which];
  const ttlMs = BUCKET_TTL_MS[which];
  // Not there yet (bindOnly opens without looking; status() looks): made below.
  const existing = await kvm
    .open(name, { bindOnly: true })
    .then(async (bucket) => (await bucket.status(), bucket))
    .catch(() => undefined);
  if (existing !== undefined) return existing;
  try {
    const meta = await kvm.open(bucketNames(location.repo).meta, { bindOnly: true });
    const { replicas } = await meta.status();
    const bucket = await kvm.create(name, { ttl: ttlMs, history: 1, replicas });
    const status = await bucket.status();
    if (status.ttl !== ttlMs) throw new AirlockError('NATS_SERVER', `${location.display}: bucket ${name} has a TTL of ${status.ttl} ms, not ${ttlMs}; remove it (nats kv rm ${name}) and let airlock make it again`);
    return bucket;
  } catch (error) {
    if (missing(error)) throw new AirlockError('RELEASE_REPO', `${location.display}: there is no repository ${location.repo} on this server; create it with \`airlock release init ${location.display} --keys KEYDIR\``, { cause: error });
    throw natsFailure(location, `opening ${name}`, error);
  }
}
