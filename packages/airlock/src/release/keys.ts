import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { canonicalize } from '@tufjs/canonical-json';
import { Key, Signature } from '@tufjs/models';
import { AirlockError } from '../errors.js';

/** The four top-level TUF roles. */
export const ROLES = ['root', 'targets', 'snapshot', 'timestamp'] as const;
export type Role = (typeof ROLES)[number];
/** A role with a key: the top-level four, and rollout (the fleet controller's online key, delegated by targets for rollout/ paths only). */
export type KeyRole = Role | 'rollout';

/** One private key and its TUF public key (Ed25519). */
export interface SigningKey {
  readonly key: Key;
  readonly sign: (data: Buffer) => Signature;
}

/** The file a role's i-th key (from 1) is kept in: root.key, root-2.key, targets.key… */
export function keyFileName(role: KeyRole, index = 1): string {
  return index === 1 ? `${role}.key` : `${role}-${index}.key`;
}

/** The variable that may hold the key instead (CI): AIRLOCK_RELEASE_KEY_ROOT, AIRLOCK_RELEASE_KEY_ROOT_2… */
export function keyEnvName(role: KeyRole, index = 1): string {
  return `AIRLOCK_RELEASE_KEY_${role.toUpperCase()}${index === 1 ? '' : `_${index}`}`;
}

/** The TUF public key of an Ed25519 key: its raw 32 bytes in hex, and its key id (sha256 of the key's canonical JSON). */
function publicKey(privateKey: KeyObject): Key {
  const raw = createPublicKey(privateKey).export({ format: 'der', type: 'spki' }).subarray(-32);
  const fields = { keyType: 'ed25519', scheme: 'ed25519', keyVal: { public: raw.toString('hex') } };
  const keyID = createHash('sha256').update(canonicalize(new Key({ keyID: '', ...fields }).toJSON())).digest('hex');
  return new Key({ keyID, ...fields });
}

function signingKey(privateKey: KeyObject): SigningKey {
  const key = publicKey(privateKey);
  return { key, sign: (data) => new Signature({ keyID: key.keyID, sig: sign(null, data, privateKey).toString('hex') }) };
}

/**
 * Makes a new Ed25519 key for a role and writes it (PKCS#8 PEM, mode 0600) into `dir`;
 * refuses to overwrite one: a lost key cannot be made again.
 *
 * @example
 *   const root = generateKey('keys', 'root'); // keys/root.key
 */
export function generateKey(dir: string, role: KeyRole, index = 1): SigningKey {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, keyFileName(role, index));
  if (existsSync(file)) throw new AirlockError('RELEASE_KEYS', `${file} already exists; a key is never overwritten (move it away first if you mean to replace it)`);
  const { privateKey } = generateKeyPairSync('ed25519');
  writeFileSync(file, privateKey.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600 });
  chmodSync(file, 0o600);
  return signingKey(privateKey);
}

/**
 * Loads a role's key: from its variable (AIRLOCK_RELEASE_KEY_TARGETS…) when set, else
 * from `dir`. The key itself is never printed, not even in an error.
 *
 * @example
 *   const targets = loadKey('keys', 'targets');
 *   metadata.sign(targets.sign);
 */
export function loadKey(dir: string | undefined, role: KeyRole, index = 1, env: NodeJS.ProcessEnv = process.env): SigningKey {
  const variable = keyEnvName(role, index);
  const fromEnv = env[variable];
  const file = dir === undefined ? undefined : join(dir, keyFileName(role, index));
  let pem: string;
  if (fromEnv !== undefined && fromEnv !== '') pem = fromEnv;
  else if (file !== undefined && existsSync(file)) pem = readFileSync(file, 'utf8');
  else throw new AirlockError('RELEASE_KEYS', `no ${role} key: neither ${variable} is set nor ${file ?? '--keys DIR'} exists; pass --keys with the directory \`airlock release init\` wrote`);
  try {
    return signingKey(createPrivateKey(pem));
  } catch {
    throw new AirlockError('RELEASE_KEYS', `the ${role} key in ${fromEnv ? variable : file} is not a PEM private key`);
  }
}
