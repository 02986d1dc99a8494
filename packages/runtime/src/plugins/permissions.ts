import { isAbsolute, resolve } from 'node:path';
import { cpus } from 'node:os';

/**
 * What a sandboxed plugin may do (plugin.json `permissions`); everything not granted is
 * denied. Paths are absolute after parsing (a relative one is taken from the host's
 * working directory, where the app runs).
 */
export interface Permissions {
  /** Directories or files it may read (its own directory always). */
  readonly read: readonly string[];
  /** Directories or files it may write (and read). */
  readonly write: readonly string[];
  /** Loopback addresses it may connect to: `{ host, port }`; none: no network at all. */
  readonly connect: readonly { readonly host: string; readonly port: number }[];
  /** It may start child processes (which stay inside the same sandbox). */
  readonly child: boolean;
  /** Resident memory of its whole process tree; past it the plugin is stopped. */
  readonly memoryMB: number | undefined;
  /** CPU time per second it may use; spinning past it for CPU_GRACE_S seconds stops it. */
  readonly cpuMsPerSecond: number | undefined;
}

/** No grant at all: what a plugin from a channel without a permissions block gets. */
export const NOTHING: Permissions = { read: [], write: [], connect: [], child: false, memoryMB: undefined, cpuMsPerSecond: undefined };

const KNOWN = new Set(['fs', 'net', 'child', 'memoryMB', 'cpuMsPerSecond']);
/** Node's permission model and bubblewrap's mounts both take paths; these would be read as flags or lists. */
const BAD_PATH = /[,\0\n]/;
/** A connection grant: the address is listened on inside the plugin's own network namespace, so it must be a loopback one. */
const LOOPBACK = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|localhost)$/;

/**
 * Reads a manifest's `permissions` (the error says which entry and what was expected).
 *
 * @example
 *   parsePermissions({ fs: ['read:./data', 'write:/tmp/plugin-x'], net: ['connect:127.0.0.1:6379'], memoryMB: 64 }, '/srv/app');
 */
export function parsePermissions(raw: unknown, cwd: string): Permissions {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new Error('"permissions" must be an object: { "fs": [...], "net": [...] | false, "child": false, "memoryMB": 64, "cpuMsPerSecond": 200 }');
  const p = raw as Record<string, unknown>;
  for (const key of Object.keys(p)) if (!KNOWN.has(key)) throw new Error(`"permissions" has an unknown key "${key}"; allowed: ${[...KNOWN].join(', ')}`);
  const read: string[] = [];
  const write: string[] = [];
  const fs = p.fs ?? [];
  if (!Array.isArray(fs)) throw new Error(`"permissions.fs" must be a list like ["read:./data", "write:/tmp/plugin-x"], got ${JSON.stringify(fs)}`);
  for (const entry of fs) {
    const match = typeof entry === 'string' ? /^(read|write):(.+)$/.exec(entry) : null;
    if (match === null) throw new Error(`"permissions.fs" entry ${JSON.stringify(entry)}: expected "read:PATH" or "write:PATH"`);
    const [, how, path] = match as unknown as [string, 'read' | 'write', string];
    if (BAD_PATH.test(path)) throw new Error(`"permissions.fs" entry ${JSON.stringify(entry)}: a path may not contain a comma or a line break`);
    const absolute = isAbsolute(path) ? resolve(path) : resolve(cwd, path);
    if (absolute === '/') throw new Error(`"permissions.fs" entry ${JSON.stringify(entry)}: the whole file system cannot be granted; name the directories it needs`);
    (how === 'read' ? read : write).push(absolute);
  }
  const connect: { host: string; port: number }[] = [];
  const net = p.net ?? false;
  if (net !== false) {
    if (!Array.isArray(net)) throw new Error(`"permissions.net" must be false or a list like ["connect:127.0.0.1:6379"], got ${JSON.stringify(net)}`);
    for (const entry of net) {
      const match = typeof entry === 'string' ? /^connect:([^:]+):(\d{1,5})$/.exec(entry) : null;
      const port = Number(match?.[2]);
      if (match === null || port < 1 || port > 65_535) throw new Error(`"permissions.net" entry ${JSON.stringify(entry)}: expected "connect:HOST:PORT", e.g. "connect:127.0.0.1:6379"`);
      const host = match[1] as string;
      if (!LOOPBACK.test(host)) throw new Error(`"permissions.net" entry ${JSON.stringify(entry)}: only loopback addresses (127.x.x.x, localhost) can be granted; run a forwarder on this machine for a remote service and grant its port`);
      connect.push({ host: host === 'localhost' ? '127.0.0.1' : host, port });
    }
  }
  const child = p.child ?? false;
  if (typeof child !== 'boolean') throw new Error(`"permissions.child" must be true or false, got ${JSON.stringify(child)}`);
  const positive = (key: string, max: number): number | undefined => {
    const value = p[key];
    if (value === undefined) return undefined;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > max) throw new Error(`"permissions.${key}" must be a whole number from 1 to ${max}, got ${JSON.stringify(value)}`);
    return value;
  };
  return { read, write, connect, child, memoryMB: positive('memoryMB', 1_048_576), cpuMsPerSecond: positive('cpuMsPerSecond', 1000 * Math.max(1, cpus().length)) };
}
