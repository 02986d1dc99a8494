import { readFileSync } from 'node:fs';

/**
 * The app config snapshot airlock validated (AIRLOCK_CONFIG_FILE), as one immutable value
 * that is replaced in a single step when airlock signals a change (deliver: signal): a
 * reader sees the old snapshot or the new one, never a mix of their keys.
 *
 * @example
 *   import { config, onConfigChange } from '@airlock/runtime/config';
 *   const timeout = config().timeoutMs;
 *   onConfigChange((next, previous) => log(`config changed: ${previous.level} → ${next.level}`));
 */
export type ConfigSnapshot = Readonly<Record<string, unknown>>;

type Listener = (next: ConfigSnapshot, previous: ConfigSnapshot) => void;
type Validator = (candidate: ConfigSnapshot) => boolean | string;

let current: ConfigSnapshot | undefined;
const listeners = new Set<Listener>();
const validators = new Set<Validator>();
let installed = false;

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const inner of Object.values(value)) deepFreeze(inner);
  }
  return value;
}

function read(env: NodeJS.ProcessEnv): ConfigSnapshot {
  const file = env.AIRLOCK_CONFIG_FILE;
  if (!file) return deepFreeze({});
  return deepFreeze(JSON.parse(readFileSync(file, 'utf8')) as ConfigSnapshot);
}

/** Reads the snapshot again and swaps it in if every validation hook accepts it. */
export function reloadConfig(env: NodeJS.ProcessEnv = process.env): { ok: boolean; reason?: string } {
  let next: ConfigSnapshot;
  try {
    next = read(env);
  } catch (error) {
    return { ok: false, reason: `cannot read ${env.AIRLOCK_CONFIG_FILE}: ${(error as Error).message}` };
  }
  for (const validate of validators) {
    const verdict = validate(next);
    if (verdict !== true) return { ok: false, reason: typeof verdict === 'string' ? verdict : 'refused by a validation hook' };
  }
  const previous = current ?? deepFreeze({});
  current = next;
  for (const listener of listeners) listener(next, previous);
  return { ok: true };
}

function install(env: NodeJS.ProcessEnv): void {
  if (installed) return;
  installed = true;
  const signal = (env.AIRLOCK_CONFIG_SIGNAL ?? 'SIGHUP') as NodeJS.Signals;
  process.on(signal, () => void reloadConfig(env));
}

/** The current snapshot (read on first use). */
export function config(env: NodeJS.ProcessEnv = process.env): ConfigSnapshot {
  if (current === undefined) {
    current = read(env);
    install(env);
  }
  return current;
}

/** Calls fn after each change has been swapped in. Returns a function that removes it. */
export function onConfigChange(fn: Listener, env: NodeJS.ProcessEnv = process.env): () => void {
  config(env);
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/** A hook that may refuse a new snapshot (return false or a reason); the old one then stays. */
export function validateConfig(fn: Validator): () => void {
  validators.add(fn);
  return () => validators.delete(fn);
}
