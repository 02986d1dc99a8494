import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Metadata, MetadataKind, TargetFile, Targets } from '@tufjs/models';
import { canonicalize } from '@tufjs/canonical-json';
import { z } from 'zod';
import { AirlockError } from '../errors.js';
import { writeAtomic } from '../atomic-file.js';
import { loadKey, type SigningKey } from './keys.js';
import { current, DAY_MS, DEFAULT_EXPIRY_MS, expires, metaVersions, read, resign, SPEC_VERSION, write } from './metadata-io.js';

/** The delegated role that signs fleet rollout states: named in targets.json, for rollout/ paths only. */
export const ROLLOUT_ROLE = 'rollout';
const ROLLOUT_EXPIRY_MS = 365 * DAY_MS;

/** Where the state of a service's rollout on a channel is, as a target path (rollout/SERVICE/CHANNEL.json). */
export function rolloutTargetPath(service: string, channel: string): string {
  return `${ROLLOUT_ROLE}/${service}/${channel}.json`;
}

/**
 * targets.json with a delegation to the rollout key: it may sign rollout/SERVICE/CHANNEL.json
 * and nothing else (terminating). Built through the JSON form: @tufjs/models does not
 * export its Delegations class.
 */
export function withRolloutDelegation(targets: Targets, key: SigningKey): Targets {
  const role = { name: ROLLOUT_ROLE, keyids: [key.key.keyID], threshold: 1, terminating: true, paths: [`${ROLLOUT_ROLE}/*/*`] };
  return Targets.fromJSON({ ...(targets.toJSON() as Record<string, unknown>), delegations: { keys: { [key.key.keyID]: key.key.toJSON() }, roles: [role] } });
}

/** The rollout role's first metadata: no rollout yet. */
export function emptyRolloutMetadata(key: SigningKey, now: Date): Metadata<Targets> {
  const metadata = new Metadata(new Targets({ version: 1, specVersion: SPEC_VERSION, expires: expires(now, ROLLOUT_EXPIRY_MS) }));
  metadata.sign(key.sign, false);
  return metadata;
}

const hostId = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/);

/**
 * A fleet rollout's state for one service and channel, signed by the rollout key: which
 * release every host runs (the head) and which hosts run the canary. Agents act on it only
 * once tuf-js verified it, so whoever can write to NATS but holds no key cannot steer it.
 */
export const fleetStateSchema = z.strictObject({
  /** Grows with every write: a controller that took over continues from it. */
  seq: z.number().int().min(1),
  /** The release every host off the canary runs, once a rollout promoted it (else the newest release not staged). */
  head: z.number().int().min(1).optional(),
  canary: z
    .strictObject({
      version: z.number().int().min(1),
      /** Host ids on the canary, in the order they joined it: a later step only adds to them. */
      hosts: z.array(hostId),
      /** Steps in percent of hosts (34, 100), and the index of the one in force. */
      steps: z.array(z.number().min(0).max(100)).min(1),
      step: z.number().int().min(0),
      /** When the step in force began (ISO time): a controller that took over waits out the rest of its interval. */
      stepStartedAt: z.string(),
    })
    .optional(),
  /** How the last rollout ended. */
  last: z.strictObject({ version: z.number().int(), outcome: z.enum(['promoted', 'aborted']), reason: z.string(), at: z.string() }).optional(),
});
export type FleetState = z.infer<typeof fleetStateSchema>;

/** Reads a state from a target's custom field; undefined for none or one not in this shape (said by the caller). */
export function fleetStateOf(custom: unknown): FleetState | undefined {
  const parsed = fleetStateSchema.safeParse(custom);
  return parsed.success ? parsed.data : undefined;
}

/** The rollout role's metadata as it is in a repository directory, or a RELEASE_REPO error for a repository made before fleet rollouts. */
function rolloutMetadata(dir: string) {
  const { timestamp, snapshot } = current(dir);
  const version = snapshot.signed.meta[`${ROLLOUT_ROLE}.json`]?.version;
  if (version === undefined) {
    throw new AirlockError('RELEASE_REPO', `${dir} has no rollout role (it was made before fleet rollouts); make a new repository with \`airlock release init\` and publish into it`);
  }
  const metadata = read(dir, MetadataKind.Targets, `${version}.${ROLLOUT_ROLE}.json`) as unknown as Metadata<Targets>;
  return { timestamp, snapshot, metadata };
}

/** The state of a rollout as the repository holds it (the controller's side: it writes the repository, so it reads it directly). */
export function readFleetState(dir: string, service: string, channel: string): FleetState | undefined {
  const target = rolloutMetadata(dir).metadata.signed.targets[rolloutTargetPath(service, channel)];
  return target === undefined ? undefined : fleetStateOf(target.custom);
}

/**
 * Writes a new rollout state: the rollout role's metadata one version up, signed by the
 * rollout key, then snapshot and timestamp (their keys are online keys too). The state
 * is also stored as the target file itself, so a TUF client can download and hash it.
 *
 * @example
 *   writeFleetState(dir, 'keys', 'web', 'stable', { seq: 4, canary: { version: 7, hosts: ['host-a'], steps: [34, 100], step: 0, stepStartedAt } });
 */
export function writeFleetState(dir: string, keysDir: string | undefined, service: string, channel: string, state: FleetState, now = new Date()): void {
  const { timestamp, snapshot, metadata } = rolloutMetadata(dir);
  const bytes = Buffer.from(canonicalize(state));
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const path = rolloutTargetPath(service, channel);
  const stored = join(dir, 'targets', ROLLOUT_ROLE, service, `${sha256}.${channel}.json`);
  mkdirSync(join(stored, '..'), { recursive: true });
  writeAtomic(stored, bytes);
  const target = new TargetFile({ path, length: bytes.length, hashes: { sha256 }, unrecognizedFields: { custom: state } });
  const version = metadata.signed.version + 1;
  const next = new Metadata(new Targets({ version, specVersion: SPEC_VERSION, expires: expires(now, ROLLOUT_EXPIRY_MS), targets: { ...metadata.signed.targets, [path]: target } }));
  next.sign(loadKey(keysDir, 'rollout').sign, false);
  write(dir, `${version}.${ROLLOUT_ROLE}.json`, next);
  resign(dir, keysDir, snapshot.signed.version + 1, { ...metaVersions(snapshot), [`${ROLLOUT_ROLE}.json`]: version }, now, DEFAULT_EXPIRY_MS.timestamp, timestamp.signed.version + 1);
}
