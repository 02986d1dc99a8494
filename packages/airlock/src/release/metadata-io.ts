import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Metadata, MetadataKind, MetaFile, Snapshot, Timestamp, type Root, type TargetFile, type Targets } from '@tufjs/models';
import { AirlockError } from '../errors.js';
import { writeAtomic } from '../atomic-file.js';
import { loadKey, type Role } from './keys.js';

export const DAY_MS = 86_400_000;
export const SPEC_VERSION = '1.0.31';
/** How long each role's metadata stays valid when (re)signed, unless told otherwise. */
export const DEFAULT_EXPIRY_MS: Readonly<Record<Role, number>> = { root: 365 * DAY_MS, targets: 365 * DAY_MS, snapshot: 365 * DAY_MS, timestamp: DAY_MS };

/** What every target of airlock carries in its `custom` field. */
export interface ReleaseCustom {
  readonly service: string;
  readonly channel: string;
  readonly version: number;
  /** Published with --staged: not the head until a fleet rollout promotes it. */
  readonly staged?: boolean;
  /** Published with --plugin NAME: a plugin of the service (a .tar.gz of its directory), versioned on its own. */
  readonly plugin?: string;
}

/** Reads a release's custom fields from a target; undefined for a target airlock did not publish. */
export function releaseOf(target: TargetFile): ReleaseCustom | undefined {
  const { service, channel, version, staged, plugin } = target.custom as Partial<ReleaseCustom>;
  if (typeof service !== 'string' || typeof channel !== 'string' || typeof version !== 'number' || !Number.isSafeInteger(version)) return undefined;
  return { service, channel, version, ...(staged === true ? { staged } : {}), ...(typeof plugin === 'string' ? { plugin } : {}) };
}

export function expires(now: Date, ms: number): string {
  // TUF wants whole seconds, UTC, with a Z.
  return new Date(Math.floor((now.getTime() + ms) / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

export function metadataDir(dir: string): string {
  return join(dir, 'metadata');
}

export function write(dir: string, name: string, metadata: Metadata<Root | Targets | Snapshot | Timestamp>): void {
  writeAtomic(join(metadataDir(dir), name), `${JSON.stringify(metadata.toJSON(), null, 1)}\n`);
}

export function read<T extends MetadataKind>(dir: string, kind: T, name: string) {
  const file = join(metadataDir(dir), name);
  try {
    return Metadata.fromJSON(kind as MetadataKind.Root, JSON.parse(readFileSync(file, 'utf8')));
  } catch (error) {
    throw new AirlockError('RELEASE_REPO', `cannot read ${file}: ${(error as Error).message}; is ${dir} a repository \`airlock release init\` wrote?`);
  }
}

/** The newest metadata of each role, as they are in the repository now. */
export function current(dir: string) {
  const timestamp = read(dir, MetadataKind.Timestamp, 'timestamp.json') as unknown as Metadata<Timestamp>;
  const snapshotVersion = timestamp.signed.snapshotMeta.version;
  const snapshot = read(dir, MetadataKind.Snapshot, `${snapshotVersion}.snapshot.json`) as unknown as Metadata<Snapshot>;
  const targetsVersion = snapshot.signed.meta['targets.json']?.version ?? 1;
  const targets = read(dir, MetadataKind.Targets, `${targetsVersion}.targets.json`) as unknown as Metadata<Targets>;
  return { timestamp, snapshot, targets };
}

/** The root metadata in force: the highest N.root.json. */
export function currentRoot(dir: string): Metadata<Root> {
  let version = 1;
  while (existsSync(join(metadataDir(dir), `${version + 1}.root.json`))) version += 1;
  return read(dir, MetadataKind.Root, `${version}.root.json`);
}

/** The version of each targets metadata file a snapshot names (targets.json, rollout.json). */
export function metaVersions(snapshot: Metadata<Snapshot>): Record<string, number> {
  return Object.fromEntries(Object.entries(snapshot.signed.meta).map(([name, meta]) => [name, meta.version]));
}

/** Signs and writes a new snapshot (naming each targets file's version in `meta`) and a new timestamp naming it. */
export function resign(dir: string, keysDir: string | undefined, snapshotVersion: number, meta: Record<string, number>, now: Date, timestampMs: number, timestampVersion: number): void {
  const files = Object.fromEntries(Object.entries(meta).map(([name, version]) => [name, new MetaFile({ version })]));
  const snapshot = new Metadata(new Snapshot({ version: snapshotVersion, specVersion: SPEC_VERSION, expires: expires(now, DEFAULT_EXPIRY_MS.snapshot), meta: files }));
  snapshot.sign(loadKey(keysDir, 'snapshot').sign, false);
  write(dir, `${snapshotVersion}.snapshot.json`, snapshot);
  const timestamp = new Metadata(new Timestamp({ version: timestampVersion, specVersion: SPEC_VERSION, expires: expires(now, timestampMs), snapshotMeta: new MetaFile({ version: snapshotVersion }) }));
  timestamp.sign(loadKey(keysDir, 'timestamp').sign, false);
  // Last: the timestamp is where every client starts, so until it lands nothing new is seen.
  write(dir, 'timestamp.json', timestamp);
}
