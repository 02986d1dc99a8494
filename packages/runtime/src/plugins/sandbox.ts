import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readlinkSync, realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Permissions } from './permissions.js';

/** What a sandboxed plugin process is started with. */
export interface SandboxCommand {
  readonly command: string;
  readonly args: readonly string[];
}

/** The system's own directories, mounted read-only so the node binary and its libraries run. */
const SYSTEM = ['/usr', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32'];

let bwrap: { path: string } | { missing: string } | undefined;

/**
 * Where bubblewrap is and whether it can make namespaces here (as root, or where user
 * namespaces are allowed); else why not. Checked once, by running it.
 */
export function bubblewrap(): { path: string } | { missing: string } {
  if (bwrap !== undefined) return bwrap;
  const path = ['/usr/bin/bwrap', '/bin/bwrap', '/usr/local/bin/bwrap'].find((candidate) => existsSync(candidate));
  if (path === undefined) return (bwrap = { missing: 'bubblewrap (bwrap) is not installed (Debian: apt-get install bubblewrap)' });
  const tried = spawnSync(path, ['--ro-bind', '/', '/', '--unshare-net', '--unshare-pid', '--die-with-parent', '--', '/bin/true'], { encoding: 'utf8', timeout: 10_000 });
  if (tried.status !== 0) return (bwrap = { missing: `bubblewrap cannot make namespaces here (${(tried.stderr || tried.error?.message || `exit ${tried.status}`).trim()}): user namespaces may be disabled (sysctl kernel.unprivileged_userns_clone=1)` });
  return (bwrap = { path });
}

/** The nearest package.json above `dir`: Node reads it to tell ES modules from CommonJS, so the plugin must see it. */
function packageScope(dir: string): string | undefined {
  for (let at = dir; ; at = dirname(at)) {
    if (existsSync(join(at, 'package.json'))) return join(at, 'package.json');
    if (dirname(at) === at) return undefined;
  }
}

export interface SandboxSpec {
  /** The script node runs first (the plugin side's entry). */
  readonly entry: string;
  /** The package the entry belongs to (its scripts and package.json), mounted read-only. */
  readonly runtimeDir: string;
  /** The plugin's directory, mounted read-only. */
  readonly pluginDir: string;
  readonly permissions: Permissions;
  /** A directory of unix sockets that carry the granted connections (net-bridge.ts), mounted writable. */
  readonly bridgeDir?: string;
  /** --max-old-space-size for the plugin's heap. */
  readonly heapMb?: number;
}

/**
 * The command that runs a plugin's process with only what its permissions grant, two
 * layers deep. bubblewrap gives it namespaces of its own: a file system holding only the
 * system's read-only directories, the runtime, its own directory and the granted paths
 * (so neither `..`, a symbolic link nor /proc/self/root leads anywhere else), a network
 * with nothing but its loopback (granted connections arrive through unix sockets), its
 * own process ids, and it dies with its host. Inside, Node's permission model refuses
 * reads and writes outside the grants, child processes and worker threads.
 *
 * @example
 *   const { command, args } = sandboxCommand({ entry, runtimeDir, pluginDir, permissions }, '/usr/bin/bwrap');
 *   spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe', 'ipc'], env: { AIRLOCK_PLUGIN_DATA: data } });
 */
export function sandboxCommand(spec: SandboxSpec, bwrapPath: string): SandboxCommand {
  const { permissions } = spec;
  const args = ['--die-with-parent', '--new-session', '--unshare-all', '--cap-drop', 'ALL'];
  for (const path of SYSTEM) {
    if (!existsSync(path)) continue;
    if (lstatSync(path).isSymbolicLink()) args.push('--symlink', readlinkSync(path), path);
    else args.push('--ro-bind', path, path);
  }
  args.push('--proc', '/proc', '--dev', '/dev', '--tmpfs', '/tmp');
  const node = realpathSync(process.execPath);
  if (!SYSTEM.some((dir) => node.startsWith(`${dir}/`))) args.push('--ro-bind', dirname(node), dirname(node));
  const readable = [spec.runtimeDir, spec.pluginDir];
  const scope = packageScope(spec.pluginDir);
  if (scope !== undefined) readable.push(scope);
  for (const path of readable) args.push('--ro-bind', path, path);
  for (const path of permissions.read) args.push('--ro-bind-try', path, path);
  for (const path of permissions.write) {
    // A granted place to write is made (as a directory) if it is not there: the grant says it is the plugin's.
    if (!existsSync(path)) mkdirSync(path, { recursive: true });
    args.push('--bind', path, path);
  }
  if (spec.bridgeDir !== undefined) args.push('--bind', spec.bridgeDir, spec.bridgeDir);
  // The private root and /tmp hold only mount points now: read-only, so nothing is written but to the grants.
  args.push('--remount-ro', '/tmp', '--remount-ro', '/', '--chdir', spec.pluginDir, '--', node, '--experimental-permission', '--disable-warning=ExperimentalWarning');
  for (const path of [...readable, ...permissions.read, ...permissions.write, ...(spec.bridgeDir === undefined ? [] : [spec.bridgeDir])]) args.push(`--allow-fs-read=${path}`);
  for (const path of [...permissions.write, ...(spec.bridgeDir === undefined ? [] : [spec.bridgeDir])]) args.push(`--allow-fs-write=${path}`);
  if (permissions.child) args.push('--allow-child-process');
  const heapMb = permissions.memoryMB ?? spec.heapMb;
  if (heapMb !== undefined) args.push(`--max-old-space-size=${heapMb}`);
  args.push(spec.entry);
  return { command: bwrapPath, args };
}
