import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { Metadata, Root, TargetFile, Targets, Timestamp } from '@tufjs/models';
import { AirlockError } from '../errors.js';
import { writeAtomic } from '../atomic-file.js';
import { generateKey, loadKey, ROLES, type Role, type SigningKey } from './keys.js';
import { emptyRolloutMetadata, ROLLOUT_ROLE, withRolloutDelegation } from './rollout-role.js';
import { current, DEFAULT_EXPIRY_MS, expires, metadataDir, metaVersions, releaseOf, resign, SPEC_VERSION, write, type ReleaseCustom } from './metadata-io.js';

export { DEFAULT_EXPIRY_MS, metaVersions, releaseOf, resign, type ReleaseCustom };

/** Service and channel names become path segments of a target: nothing that could climb out. */
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** Root keys needed to sign a new root: 1 to 9. */
export function checkRootThreshold(threshold: number): void {
  if (!Number.isInteger(threshold) || threshold < 1 || threshold > 9) throw new AirlockError('USAGE_FLAG', `--root-threshold must be a whole number from 1 to 9, got ${threshold}`);
}

/**
 * Creates a release repository in `dir` and its keys in `keysDir`: root (threshold keys),
 * targets, snapshot, timestamp, all Ed25519; consistent snapshots; no targets yet. The
 * first root is also written to `keysDir/1.root.json`: the file agents are given as `trust`.
 *
 * @example
 *   initRepository('channel', 'keys', { rootThreshold: 1 }); // channel/metadata/1.root.json …
 */
export function initRepository(dir: string, keysDir: string, options: { rootThreshold?: number; now?: Date } = {}): { trust: string } {
  const threshold = options.rootThreshold ?? 1;
  checkRootThreshold(threshold);
  if (existsSync(join(metadataDir(dir), '1.root.json'))) throw new AirlockError('RELEASE_REPO', `${dir} already holds a repository (metadata/1.root.json exists); publish into it, or choose an empty directory`);
  const now = options.now ?? new Date();
  const rootKeys = Array.from({ length: threshold }, (_, i) => generateKey(keysDir, 'root', i + 1));
  const others = Object.fromEntries(ROLES.filter((role) => role !== 'root').map((role) => [role, generateKey(keysDir, role)])) as Record<Exclude<Role, 'root'>, SigningKey>;
  const draft = new Root({ version: 1, specVersion: SPEC_VERSION, expires: expires(now, DEFAULT_EXPIRY_MS.root), consistentSnapshot: true });
  for (const key of rootKeys) draft.addKey(key.key, 'root');
  for (const role of ['targets', 'snapshot', 'timestamp'] as const) draft.addKey(others[role].key, role);
  // Role is not exported by @tufjs/models: the root role's threshold is set through its JSON form.
  const json = draft.toJSON() as { roles: Record<string, { keyids: string[]; threshold: number }> };
  const root = Root.fromJSON({ ...json, roles: { ...json.roles, root: { keyids: rootKeys.map((k) => k.key.keyID), threshold } } });
  const rootMetadata = new Metadata(root);
  for (const key of rootKeys) rootMetadata.sign(key.sign);
  mkdirSync(metadataDir(dir), { recursive: true });
  mkdirSync(join(dir, 'targets'), { recursive: true });
  write(dir, '1.root.json', rootMetadata);
  write(dir, 'root.json', rootMetadata);
  // The rollout role (fleet rollouts, docs/fleet.md) signs rollout/ paths only, delegated here once.
  const rollout = generateKey(keysDir, 'rollout');
  const targets = new Metadata(withRolloutDelegation(new Targets({ version: 1, specVersion: SPEC_VERSION, expires: expires(now, DEFAULT_EXPIRY_MS.targets) }), rollout));
  targets.sign(others.targets.sign, false);
  write(dir, '1.targets.json', targets);
  write(dir, `1.${ROLLOUT_ROLE}.json`, emptyRolloutMetadata(rollout, now));
  resign(dir, keysDir, 1, { 'targets.json': 1, [`${ROLLOUT_ROLE}.json`]: 1 }, now, DEFAULT_EXPIRY_MS.timestamp, 1);
  const trust = join(keysDir, '1.root.json');
  copyFileSync(join(metadataDir(dir), '1.root.json'), trust);
  return { trust };
}

export interface PublishOptions {
  readonly service: string;
  readonly channel: string;
  readonly version: number;
  /** Added without becoming the channel's head: only a fleet rollout's canary hosts run it (docs/fleet.md). */
  readonly staged?: boolean;
  /** A plugin of the service, by name (`file` is then its .tar.gz): versions count per plugin. */
  readonly plugin?: string;
  /** How long the new timestamp is valid (default 1 day). */
  readonly timestampMs?: number;
  readonly now?: Date;
}

/**
 * Adds `file` as the release `version` of `service` on `channel`: the file goes under
 * targets/ by its sha256 (a consistent snapshot), then targets, snapshot and timestamp
 * are re-signed. A version not above the channel's highest is refused.
 *
 * @example
 *   publish('channel', 'keys', 'bin/api', { service: 'api', channel: 'stable', version: 7 });
 */
export function publish(dir: string, keysDir: string | undefined, file: string, options: PublishOptions): { target: string; sha256: string } {
  const { service, channel, version } = options;
  for (const [flag, value] of [['--service', service], ['--channel', channel]] as const) {
    if (!NAME.test(value)) throw new AirlockError('USAGE_FLAG', `${flag} must be letters, digits, '.', '_' or '-' (at most 64, not starting with a sign), got ${JSON.stringify(value)}`);
  }
  if (!Number.isSafeInteger(version) || version < 1) throw new AirlockError('USAGE_FLAG', `--version must be a whole number of at least 1, got ${version}`);
  if (!existsSync(file) || !statSync(file).isFile()) throw new AirlockError('USAGE_FLAG', `the release file ${file} does not exist or is not a file`);
  const now = options.now ?? new Date();
  const { timestamp, snapshot, targets } = current(dir);
  const { plugin } = options;
  if (plugin !== undefined && !NAME.test(plugin)) throw new AirlockError('USAGE_FLAG', `--plugin must be letters, digits, '.', '_' or '-', got ${JSON.stringify(plugin)}`);
  const what = plugin === undefined ? service : `plugin ${plugin} of ${service}`;
  const highest = Math.max(0, ...Object.values(targets.signed.targets).map(releaseOf).filter((r) => r?.service === service && r.channel === channel && r.plugin === plugin).map((r) => (r as ReleaseCustom).version));
  if (version <= highest) throw new AirlockError('RELEASE_VERSION', `version ${version} of ${what} on ${channel} is not above ${highest}, the highest published; publish with --version ${highest + 1} or more`);
  const bytes = readFileSync(file);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  // A plugin's versions live apart from the service's own: the paths never meet.
  const base = plugin === undefined ? `${service}/${channel}` : `${service}/${channel}/plugins/${plugin}`;
  const path = `${base}/${version}/${basename(file)}`;
  const stored = join(dir, 'targets', ...base.split('/'), String(version), `${sha256}.${basename(file)}`);
  mkdirSync(join(stored, '..'), { recursive: true });
  writeAtomic(stored, bytes);
  const target = new TargetFile({ path, length: bytes.length, hashes: { sha256 }, unrecognizedFields: { custom: { service, channel, version, ...(options.staged ? { staged: true } : {}), ...(plugin === undefined ? {} : { plugin }) } } });
  const next = new Targets({ version: targets.signed.version + 1, specVersion: SPEC_VERSION, expires: expires(now, DEFAULT_EXPIRY_MS.targets), targets: { ...targets.signed.targets, [path]: target }, delegations: targets.signed.delegations });
  const signed = new Metadata(next);
  signed.sign(loadKey(keysDir, 'targets').sign, false);
  write(dir, `${next.version}.targets.json`, signed);
  resign(dir, keysDir, snapshot.signed.version + 1, { ...metaVersions(snapshot), 'targets.json': next.version }, now, options.timestampMs ?? DEFAULT_EXPIRY_MS.timestamp, timestamp.signed.version + 1);
  return { target: path, sha256 };
}

/**
 * Re-signs the timestamp (the cron job that keeps a channel fresh): a new version valid
 * for `validMs` from now, naming the same snapshot.
 *
 * @example
 *   expire('channel', 'keys', 86_400_000);
 */
export function expire(dir: string, keysDir: string | undefined, validMs: number, now = new Date()): { expires: string } {
  const { timestamp } = current(dir);
  const next = new Metadata(new Timestamp({ version: timestamp.signed.version + 1, specVersion: SPEC_VERSION, expires: expires(now, validMs), snapshotMeta: timestamp.signed.snapshotMeta }));
  next.sign(loadKey(keysDir, 'timestamp').sign, false);
  write(dir, 'timestamp.json', next);
  return { expires: next.signed.expires };
}
