import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import type { KV } from '@nats-io/kv';
import { AirlockError } from '../../errors.js';
import type { NatsLocation } from '../../config/release-location.js';
import { bucketNames, natsFailure, openRepository, ttlBucket, type RepositoryBuckets } from './buckets.js';
import { connectNats } from './connection.js';
import { Lease } from './lease.js';

/** How long a writer waits for another one's change to land before giving up. */
const WRITER_WAIT_MS = 30_000;

/** Metadata files whose names carry no version: replaced in place, by compare-and-set. */
const MUTABLE = new Set(['root.json', 'timestamp.json']);

/** Every file under `dir`, as paths relative to it. */
function filesUnder(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names.flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path).map((inner) => join(name, inner)) : [name];
  });
}

/**
 * The metadata a change needs, as it is in the bucket: timestamp.json and what it
 * reaches (the snapshot, each targets file the snapshot names), root.json and every
 * N.root.json, with their revisions. Read key by key (direct gets): listing the bucket's
 * keys takes a consumer, and on a cluster that just lost a node one is often placed on
 * the node that is gone.
 */
async function pull(meta: KV, metadataDir: string): Promise<Map<string, { revision: number; bytes: Buffer }>> {
  const seen = new Map<string, { revision: number; bytes: Buffer }>();
  const fetch = async (key: string): Promise<Buffer | undefined> => {
    const entry = await meta.get(key);
    if (entry === null || entry.operation !== 'PUT') return undefined;
    const bytes = Buffer.from(entry.value);
    seen.set(key, { revision: entry.revision, bytes });
    writeFileSync(join(metadataDir, key), bytes);
    return bytes;
  };
  await fetch('root.json');
  for (let version = 1; (await fetch(`${version}.root.json`)) !== undefined; version++);
  const timestamp = await fetch('timestamp.json');
  if (timestamp === undefined) return seen;
  // What a timestamp or a snapshot names: file → version.
  const named = (bytes: Buffer) => (JSON.parse(bytes.toString('utf8')) as { signed: { meta: Record<string, { version: number }> } }).signed.meta;
  const snapshotVersion = named(timestamp)['snapshot.json']?.version;
  const snapshot = snapshotVersion === undefined ? undefined : await fetch(`${snapshotVersion}.snapshot.json`);
  if (snapshot === undefined) return seen;
  for (const [name, { version }] of Object.entries(named(snapshot))) await fetch(`${version}.${name}`);
  return seen;
}

/** Order of writing: versioned metadata first, root.json next, timestamp.json last (where every client starts). */
function rank(name: string): number {
  return name === 'timestamp.json' ? 2 : name === 'root.json' ? 1 : 0;
}

/**
 * Runs a change written for a repository directory (publish, expire, rotate-root, a
 * rollout step) against a `nats://` repository: its metadata is copied into a temp
 * directory, the change runs there, and what it added or changed is written back —
 * new target files into the object store first, then new metadata keys (create: one
 * that exists already means another writer got there first), root.json, and
 * timestamp.json last by compare-and-set on the revision read. A writer that lost a race
 * gets RELEASE_CONFLICT and nothing of its change is seen by any client (a client starts
 * from timestamp.json). The same signing code serves both kinds of repository.
 *
 * @example
 *   await withNatsRepository(location, { create: false }, (dir) => publish(dir, keys, file, options));
 */
export async function withNatsRepository<T>(location: NatsLocation, options: { create: boolean; replicas?: number; name: string }, change: (dir: string) => T | Promise<T>): Promise<T> {
  const nc = await connectNats(location, { name: options.name });
  const dir = mkdtempSync(join(tmpdir(), 'airlock-nats-repo-'));
  try {
    const buckets = await openRepository(nc, location, { create: options.create, replicas: options.replicas });
    // Made at init with the rest, so agents only ever open it (docs/fleet.md: permissions).
    if (options.create) await ttlBucket(nc, location, 'hosts');
    // One writer at a time: a change is read, signed and written back whole. The
    // compare-and-set on timestamp.json stays as the last word if a writer's lease lapsed.
    const writer = new Lease(await ttlBucket(nc, location, 'lease'), 'writer', `${options.name} (pid ${process.pid})`);
    if (!(await writer.acquire(WRITER_WAIT_MS).catch((error: unknown) => Promise.reject(natsFailure(location, 'taking the writer lease', error))))) {
      throw new AirlockError('RELEASE_CONFLICT', `${location.display}: another writer (${(await writer.heldBy()) ?? 'gone now'}) held the repository for ${WRITER_WAIT_MS / 1000} s; run the command again`);
    }
    try {
      return await changeAndPush(location, buckets, dir, options.create, change);
    } finally {
      await writer.release();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await nc.close().catch(() => undefined);
  }
}

async function changeAndPush<T>(location: NatsLocation, buckets: RepositoryBuckets, dir: string, create: boolean, change: (dir: string) => T | Promise<T>): Promise<T> {
  const metadataDir = join(dir, 'metadata');
  mkdirSync(metadataDir, { recursive: true });
  mkdirSync(join(dir, 'targets'), { recursive: true });
  const before = await pull(buckets.meta, metadataDir).catch((error: unknown) => {
    throw natsFailure(location, 'reading the metadata', error);
  });
  if (create && before.has('1.root.json')) {
    throw new AirlockError('RELEASE_REPO', `${location.display} already holds a repository (1.root.json is in bucket ${bucketNames(location.repo).meta}); publish into it, or choose another repository name`);
  }
  const result = await change(dir);
  await push(location, buckets, dir, before);
  return result;
}

async function push(location: NatsLocation, { meta, targets }: RepositoryBuckets, dir: string, before: Map<string, { revision: number; bytes: Buffer }>): Promise<void> {
  for (const path of filesUnder(join(dir, 'targets'))) {
    const name = path.split(sep).join('/');
    const bytes = readFileSync(join(dir, 'targets', path));
    await targets.putBlob({ name }, new Uint8Array(bytes)).catch((error: unknown) => {
      throw natsFailure(location, `storing target ${name}`, error);
    });
  }
  const metadataDir = join(dir, 'metadata');
  const changed = filesUnder(metadataDir)
    .map((path) => relative(metadataDir, join(metadataDir, path)))
    .filter((name) => !before.get(name)?.bytes.equals(readFileSync(join(metadataDir, name))))
    .sort((a, b) => rank(a) - rank(b));
  for (const name of changed) {
    const bytes = new Uint8Array(readFileSync(join(metadataDir, name)));
    const old = before.get(name);
    try {
      if (old !== undefined) await meta.update(name, bytes, old.revision);
      else await createOrReplaceOrphan(meta, name, bytes);
    } catch (error) {
      if (/wrong last sequence/i.test((error as Error).message ?? '')) {
        const what = MUTABLE.has(name) || old !== undefined ? `${name} changed since it was read` : `${name} was written by someone else first`;
        throw new AirlockError('RELEASE_CONFLICT', `${location.display}: ${what}: another writer changed the repository at the same time; nothing of this change is visible to clients; run the command again`, { cause: error });
      }
      throw natsFailure(location, `writing ${name}`, error);
    }
  }
}

/**
 * A new versioned metadata file. One already there under that name was left by a writer
 * killed before its timestamp.json landed (no client ever saw it, and this writer holds
 * the writer lease, so no one writes beside it): it is replaced.
 */
async function createOrReplaceOrphan(meta: KV, name: string, bytes: Uint8Array): Promise<void> {
  try {
    await meta.create(name, bytes);
  } catch (error) {
    const orphan = MUTABLE.has(name) ? null : await meta.get(name);
    if (orphan === null) throw error;
    await meta.update(name, bytes, orphan.revision);
  }
}
