import { randomUUID } from 'node:crypto';
import { accessSync, constants, existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isAlive } from './proc.js';
import { INSTANCE } from './instance.js';

/**
 * Process trees tracked by something a child cannot drop: a cgroup per tree, where this
 * machine lets airlock make one (Linux, a writable cgroup v2 or v1 `pids` hierarchy: root,
 * a systemd user delegation, most containers). A process that double-forks into a new
 * session with a cleared environment (`env -i setsid -f …`) leaves its parent, its process
 * group and airlock's environment tag behind, but not its cgroup: whatever a generation
 * started is found, stopped with it, and checked gone. Where no cgroup can be made, the
 * process tree, the group and the tag remain (and airlock says what it could not check).
 */

/** `<hierarchy>/<airlock's own cgroup>/airlock-<instance>`, or undefined: not looked yet is null. */
let root: string | undefined | null = null;

function candidates(): string[] {
  let lines: string[];
  try {
    lines = readFileSync('/proc/self/cgroup', 'utf8').split('\n');
  } catch {
    return [];
  }
  const found: string[] = [];
  const unified = lines.find((line) => line.startsWith('0::'))?.slice(3);
  if (unified !== undefined) {
    for (const mount of ['/sys/fs/cgroup', '/sys/fs/cgroup/unified']) if (existsSync(join(mount, 'cgroup.controllers'))) found.push(join(mount, unified));
  }
  const pids = lines.map((line) => /^\d+:pids:(.*)$/.exec(line)?.[1]).find((path) => path !== undefined);
  if (pids !== undefined) found.push(join('/sys/fs/cgroup/pids', pids));
  return found;
}

/** Where this airlock makes its trees' cgroups, or undefined where it cannot (AIRLOCK_CGROUPS=off turns it off). */
export function cgroupRoot(): string | undefined {
  if (root !== null) return root;
  root = undefined;
  if (process.platform !== 'linux' || process.env.AIRLOCK_CGROUPS === 'off') return root;
  for (const base of candidates()) {
    const dir = join(base, `airlock-${INSTANCE}`);
    try {
      mkdirSync(dir);
      accessSync(join(dir, 'cgroup.procs'), constants.W_OK);
      root = dir;
      // Empty cgroups are removed at exit, however this process ends normally (the reaper does it after a kill).
      process.once('exit', removeCgroupRoot);
      break;
    } catch {
      tryRmdir(dir);
    }
  }
  return root;
}

function tryRmdir(dir: string): void {
  try {
    rmdirSync(dir);
  } catch {
    // not ours, not empty, or gone
  }
}

/** A new cgroup for one process tree, or undefined where there are none. */
export function newTreeCgroup(): string | undefined {
  const base = cgroupRoot();
  if (base === undefined) return undefined;
  const dir = join(base, randomUUID());
  try {
    mkdirSync(dir);
    return dir;
  } catch {
    return undefined;
  }
}

/**
 * The argv that runs `argv` inside `cgroup` from its first instruction: a shell moves
 * itself in, then execs the program (same pid), so nothing it forks is ever outside.
 */
export function inCgroup(cgroup: string, [file, ...args]: [string, ...string[]]): [string, ...string[]] {
  return ['/bin/sh', '-c', 'echo $$ > "$0" 2>/dev/null; exec "$@"', join(cgroup, 'cgroup.procs'), file, ...args];
}

/** The live processes in a tree's cgroup (zombies count as gone). */
export function cgroupMembers(cgroup: string): number[] {
  let text: string;
  try {
    text = readFileSync(join(cgroup, 'cgroup.procs'), 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map(Number)
    .filter(isAlive);
}

/** Signals every process in the cgroup (cgroup v2's cgroup.kill for SIGKILL, where the kernel has it). */
export function signalCgroup(cgroup: string, signal: NodeJS.Signals): void {
  if (signal === 'SIGKILL' && existsSync(join(cgroup, 'cgroup.kill'))) {
    try {
      writeFileSync(join(cgroup, 'cgroup.kill'), '1');
      return;
    } catch {
      // fall back to one signal each
    }
  }
  for (const pid of cgroupMembers(cgroup)) {
    try {
      process.kill(pid, signal);
    } catch {
      // gone meanwhile
    }
  }
}

/** Removes a tree's cgroup once it is empty (a cgroup with a process in it cannot be removed). */
export function removeCgroup(cgroup: string): void {
  tryRmdir(cgroup);
}

/** The trees' cgroups this airlock made and has not removed yet. */
function treeCgroups(): string[] {
  if (root === null || root === undefined || !existsSync(root)) return [];
  const base = root;
  return readdirSync(base, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => join(base, entry.name));
}

/**
 * What is still alive in any of this airlock's cgroups, SIGKILLed: the check behind
 * "nothing left running". Returns the pids it had to kill (removeCgroupRoot then removes
 * the cgroups).
 */
export function endLeftovers(): number[] {
  const killed: number[] = [];
  for (const cgroup of treeCgroups()) {
    const members = cgroupMembers(cgroup);
    if (members.length === 0) continue;
    signalCgroup(cgroup, 'SIGKILL');
    killed.push(...members);
  }
  return killed;
}

/** Removes this airlock's cgroups (after its processes are gone). */
export function removeCgroupRoot(): void {
  for (const cgroup of treeCgroups()) tryRmdir(cgroup);
  if (typeof root === 'string') tryRmdir(root);
}
