import { readFileSync, readdirSync } from 'node:fs';

/**
 * Reads of Linux /proc used to find every process a generation started, including the
 * ones that left its process group with setsid. A zombie counts as dead: it holds no
 * port and runs no code, and init may take a second or two to reap an orphaned one.
 */

export interface ProcStat {
  readonly pid: number;
  readonly state: string;
  readonly ppid: number;
  readonly pgrp: number;
  /** Clock ticks after boot; with the pid it identifies a process across pid reuse. */
  readonly startTime: number;
  /** CPU time so far in user space and in the kernel, in clock ticks (getconf CLK_TCK a second). */
  readonly userTicks: number;
  readonly systemTicks: number;
}

export function readStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name may hold spaces and parentheses: split after the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return {
    pid,
    state: fields[0] ?? '?',
    ppid: Number(fields[1]),
    pgrp: Number(fields[2]),
    startTime: Number(fields[19]),
    userTicks: Number(fields[11]),
    systemTicks: Number(fields[12]),
  };
}

export function isAlive(pid: number): boolean {
  const stat = readStat(pid);
  return stat !== undefined && stat.state !== 'Z' && stat.state !== 'X';
}

/** Same pid, same start time: the process we saw before, not a newcomer with a reused pid. */
export function isSameProcess(known: ProcStat): boolean {
  const now = readStat(known.pid);
  return now !== undefined && now.startTime === known.startTime && now.state !== 'Z' && now.state !== 'X';
}

function childrenOf(pid: number): number[] {
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  const result: number[] = [];
  for (const tid of tasks) {
    try {
      const text = readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim();
      if (text) for (const child of text.split(' ')) result.push(Number(child));
    } catch {
      // the task ended while we read
    }
  }
  return result;
}

/** Every live descendant of pid (not pid itself), depth first. */
export function descendants(pid: number): ProcStat[] {
  const found: ProcStat[] = [];
  const stack = childrenOf(pid);
  while (stack.length > 0) {
    const next = stack.pop() as number;
    const stat = readStat(next);
    if (stat === undefined || stat.state === 'Z') continue;
    found.push(stat);
    stack.push(...childrenOf(next));
  }
  return found;
}

/** Live members of a process group. */
export function groupMembers(pgid: number): number[] {
  const members: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readStat(Number(entry));
    if (stat !== undefined && stat.pgrp === pgid && stat.state !== 'Z' && stat.state !== 'X') members.push(stat.pid);
  }
  return members;
}

/**
 * Live processes whose environment holds `NAME=value`. Every descendant inherits the
 * tag airlock gives a generation, so this finds ones that were orphaned (and reparented
 * to init) before airlock ever saw them in the process tree.
 */
export function processesWithEnv(name: string, value: string): ProcStat[] {
  const needle = Buffer.from(`\0${name}=${value}\0`);
  const found: ProcStat[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let environ: Buffer;
    try {
      environ = Buffer.concat([Buffer.from([0]), readFileSync(`/proc/${entry}/environ`), Buffer.from([0])]);
    } catch {
      continue;
    }
    if (environ.includes(needle)) {
      const stat = readStat(Number(entry));
      if (stat !== undefined && stat.state !== 'Z' && stat.state !== 'X') found.push(stat);
    }
  }
  return found;
}
