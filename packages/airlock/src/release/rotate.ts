import { existsSync, mkdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { Metadata, Root, Targets, type Key } from '@tufjs/models';
import { generateKey, keyFileName, loadKey, type Role, type SigningKey } from './keys.js';
import { current, currentRoot, DEFAULT_EXPIRY_MS, expires, metaVersions, resign, SPEC_VERSION, write } from './metadata-io.js';
import { checkRootThreshold } from './repository.js';

export interface RotateOptions {
  /** Root keys the new root needs (default: as many as now). */
  readonly rootThreshold?: number;
  /** Other roles whose key is replaced too (a compromised targets key, say). */
  readonly also?: readonly Exclude<Role, 'root'>[];
  readonly now?: Date;
}

/** Moves a role's current key files into KEYDIR/retired/ (kept: they signed earlier versions). */
function retire(keysDir: string, role: Role, count: number, rootVersion: number): void {
  const retired = join(keysDir, 'retired');
  mkdirSync(retired, { recursive: true, mode: 0o700 });
  for (let i = 1; i <= count; i++) {
    const file = join(keysDir, keyFileName(role, i));
    if (existsSync(file)) renameSync(file, join(retired, `v${rootVersion}-${keyFileName(role, i)}`));
  }
}

/**
 * Key rotation (TUF §6.1): root version N+1 with new root keys (and new keys for the
 * roles in `also`), signed by a threshold of the old root keys and of the new ones, so a
 * client that trusts root N accepts it and any later client can walk from root 1 up. The
 * old key files move to KEYDIR/retired/; the new ones take their names. Roles whose key
 * changed are re-signed with it at once (new targets, snapshot and timestamp versions).
 *
 * @example
 *   rotateRoot('channel', 'keys', { also: ['targets'] }); // channel/metadata/2.root.json
 */
export function rotateRoot(dir: string, keysDir: string, options: RotateOptions = {}): { version: number } {
  const now = options.now ?? new Date();
  const old = currentRoot(dir);
  const oldThreshold = old.signed.roles.root?.threshold ?? 1;
  const threshold = options.rootThreshold ?? oldThreshold;
  checkRootThreshold(threshold);
  // Loaded before anything moves: a missing old key stops the rotation with nothing changed.
  const oldRootKeys: SigningKey[] = Array.from({ length: oldThreshold }, (_, i) => loadKey(keysDir, 'root', i + 1));
  const also = [...new Set(options.also ?? [])];
  for (const role of also) loadKey(keysDir, role);
  const version = old.signed.version + 1;
  retire(keysDir, 'root', oldThreshold, old.signed.version);
  for (const role of also) retire(keysDir, role, 1, old.signed.version);
  const newRootKeys = Array.from({ length: threshold }, (_, i) => generateKey(keysDir, 'root', i + 1));
  const replaced = new Map(also.map((role) => [role, generateKey(keysDir, role)]));

  const json = old.signed.toJSON() as { keys: Record<string, ReturnType<Key['toJSON']>>; roles: Record<string, { keyids: string[]; threshold: number }> };
  const roles: Record<string, { keyids: string[]; threshold: number }> = { ...json.roles, root: { keyids: newRootKeys.map((k) => k.key.keyID), threshold } };
  const keys: Record<string, ReturnType<Key['toJSON']>> = {};
  for (const [role, key] of replaced) roles[role] = { keyids: [key.key.keyID], threshold: 1 };
  for (const key of newRootKeys) keys[key.key.keyID] = key.key.toJSON();
  for (const [, key] of replaced) keys[key.key.keyID] = key.key.toJSON();
  // Keep the keys still named by a role; drop the ones no role names any more.
  const named = new Set(Object.values(roles).flatMap((role) => role.keyids));
  for (const [id, key] of Object.entries(json.keys)) if (named.has(id)) keys[id] = key;
  const root = new Metadata(Root.fromJSON({ ...json, version, expires: expires(now, DEFAULT_EXPIRY_MS.root), keys, roles }));
  for (const key of [...oldRootKeys, ...newRootKeys]) root.sign(key.sign);
  write(dir, `${version}.root.json`, root);
  write(dir, 'root.json', root);

  if (replaced.size > 0) {
    const { timestamp, snapshot, targets } = current(dir);
    let targetsVersion = targets.signed.version;
    if (replaced.has('targets')) {
      targetsVersion += 1;
      const next = new Metadata(new Targets({ version: targetsVersion, specVersion: SPEC_VERSION, expires: expires(now, DEFAULT_EXPIRY_MS.targets), targets: targets.signed.targets, delegations: targets.signed.delegations }));
      next.sign((replaced.get('targets') as SigningKey).sign, false);
      write(dir, `${targetsVersion}.targets.json`, next);
    }
    resign(dir, keysDir, snapshot.signed.version + 1, { ...metaVersions(snapshot), 'targets.json': targetsVersion }, now, DEFAULT_EXPIRY_MS.timestamp, timestamp.signed.version + 1);
  }
  return { version };
}
