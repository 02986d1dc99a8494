import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The kernel's limits on one sandboxed plugin: its memory and CPU cgroups, and how to read and remove them. */
export interface PluginCgroup {
  /** "cgroup v2" or "cgroup v1": said in messages and the docs' table. */
  readonly kind: string;
  /** The cgroup.procs files the plugin's first process writes its pid to before it execs the sandbox. */
  readonly procs: readonly string[];
  /** Whether the kernel killed something in it for memory. */
  oomKilled(): boolean;
  /** Removes the cgroups once nothing runs in them (a few tries: the last processes may still be leaving). */
  remove(): Promise<void>;
}

let counter = 0;

/** This process's own path in each hierarchy, from /proc/self/cgroup. */
function ownPaths(): { unified?: string; memory?: string; cpu?: string } {
  const paths: { unified?: string; memory?: string; cpu?: string } = {};
  try {
    for (const line of readFileSync('/proc/self/cgroup', 'utf8').split('\n')) {
      const [, controllers, path] = /^\d+:([^:]*):(.*)$/.exec(line) ?? [];
      if (controllers === undefined || path === undefined) continue;
      if (controllers === '') paths.unified = path;
      const list = controllers.split(',');
      if (list.includes('memory')) paths.memory = path;
      if (list.includes('cpu')) paths.cpu = path;
    }
  } catch {
    // Not Linux, or no /proc: no cgroups.
  }
  return paths;
}

function tryRmdir(dir: string): boolean {
  try {
    rmdirSync(dir);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ENOENT';
  }
}

function make(dir: string, settings: Record<string, string>): boolean {
  try {
    mkdirSync(dir);
    for (const [file, value] of Object.entries(settings)) writeFileSync(join(dir, file), value);
    return true;
  } catch {
    tryRmdir(dir);
    return false;
  }
}

/**
 * Memory and CPU cgroups for one sandboxed plugin, where this machine lets this process
 * make them (cgroup v2 with the memory and cpu controllers delegated, or v1's memory and
 * cpu hierarchies writable: root, a systemd delegation, most containers); undefined
 * elsewhere, and the watchdog alone keeps the limits. The memory limit is the kernel's:
 * past it the plugin's process is killed for memory; the CPU limit is a quota: the plugin
 * is held to its share, never more.
 *
 * @example
 *   const cgroup = pluginCgroup({ memoryMB: 64, cpuMsPerSecond: 200 });
 *   // spawn sh -c 'echo $$ > PROCS…; exec bwrap …', then on exit: cgroup?.oomKilled(); await cgroup?.remove();
 */
export function pluginCgroup(limits: { memoryMB?: number; cpuMsPerSecond?: number }): PluginCgroup | undefined {
  const { memoryMB, cpuMsPerSecond } = limits;
  if (process.platform !== 'linux' || (memoryMB === undefined && cpuMsPerSecond === undefined) || process.env.AIRLOCK_CGROUPS === 'off') return undefined;
  const own = ownPaths();
  const name = `airlock-plugin-${process.pid}-${++counter}`;
  const period = 100_000;
  const quota = cpuMsPerSecond === undefined ? undefined : String(Math.max(1_000, Math.round((cpuMsPerSecond * period) / 1000)));
  // v2: one directory holds both limits.
  for (const mount of ['/sys/fs/cgroup', '/sys/fs/cgroup/unified']) {
    if (own.unified === undefined || !existsSync(join(mount, 'cgroup.controllers'))) continue;
    const base = join(mount, own.unified);
    let enabled: string[] = [];
    try {
      enabled = readFileSync(join(base, 'cgroup.subtree_control'), 'utf8').trim().split(/\s+/);
    } catch {
      continue;
    }
    if ((memoryMB !== undefined && !enabled.includes('memory')) || (quota !== undefined && !enabled.includes('cpu'))) continue;
    const dir = join(base, name);
    const settings: Record<string, string> = {};
    if (memoryMB !== undefined) Object.assign(settings, { 'memory.max': String(memoryMB * 2 ** 20), 'memory.swap.max': '0' });
    if (quota !== undefined) settings['cpu.max'] = `${quota} ${period}`;
    if (!make(dir, settings)) continue;
    return {
      kind: 'cgroup v2',
      procs: [join(dir, 'cgroup.procs')],
      oomKilled: () => /oom_kill [1-9]/.test(readFileSafe(join(dir, 'memory.events'))),
      remove: () => removeAll([dir]),
    };
  }
  // v1: a memory and a cpu hierarchy, each with a directory of its own.
  const dirs: string[] = [];
  if (memoryMB !== undefined) {
    if (own.memory === undefined) return undefined;
    const dir = join('/sys/fs/cgroup/memory', own.memory, name);
    if (!make(dir, { 'memory.limit_in_bytes': String(memoryMB * 2 ** 20) })) return undefined;
    dirs.push(dir);
  }
  if (quota !== undefined) {
    const hierarchy = ['/sys/fs/cgroup/cpu', '/sys/fs/cgroup/cpu,cpuacct'].find((path) => existsSync(join(path, 'cpu.cfs_quota_us')));
    const dir = hierarchy === undefined || own.cpu === undefined ? undefined : join(hierarchy, own.cpu, name);
    if (dir === undefined || !make(dir, { 'cpu.cfs_period_us': String(period), 'cpu.cfs_quota_us': quota })) {
      for (const made of dirs) tryRmdir(made);
      return undefined;
    }
    dirs.push(dir);
  }
  const memoryDir = memoryMB === undefined ? undefined : dirs[0];
  return {
    kind: 'cgroup v1',
    procs: dirs.map((dir) => join(dir, 'cgroup.procs')),
    oomKilled: () => memoryDir !== undefined && /oom_kill [1-9]/.test(readFileSafe(join(memoryDir, 'memory.oom_control'))),
    remove: () => removeAll(dirs),
  };
}

function readFileSafe(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

async function removeAll(dirs: readonly string[]): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (dirs.map(tryRmdir).every(Boolean)) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * The command that puts itself into the cgroups, then becomes `command`: the first
 * process of the sandbox is inside before it runs anything, so all it starts is too.
 */
export function intoCgroup(procs: readonly string[], command: string, args: readonly string[]): { command: string; args: string[] } {
  const script = 'n=$1; shift; while [ "$n" -gt 0 ]; do echo $$ > "$1" || exit 125; shift; n=$((n-1)); done; exec "$@"';
  return { command: '/bin/sh', args: ['-c', script, 'airlock-plugin', String(procs.length), ...procs, command, ...args] };
}
