import { setTimeout as delay } from 'node:timers/promises';
import { cgroupMembers, removeCgroup, signalCgroup } from './cgroup.js';
import { descendants, groupMembers, isSameProcess, type ProcStat } from './proc.js';
import type { ProcessEnd } from './process-end.js';
import type { Supervised } from './spawn.js';

export interface StopOptions {
  readonly signal: NodeJS.Signals;
  readonly timeoutMs: number;
  /** Aborted when a hold (a paused debuggee) no longer counts: airlock itself is stopping. */
  readonly holdEnds?: AbortSignal;
}

export interface StopResult {
  readonly end: ProcessEnd;
  /** True when the grace period ran out and SIGKILL was needed. */
  readonly forced: boolean;
  /** Pids outside the group (setsid) that had to be stopped as well. */
  readonly escaped: readonly number[];
}

const POLL_MS = 15;
/** How often a stop held by a debugger looks whether it was let go. */
const HELD_LOOK_MS = 250;

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // ESRCH: the group is already empty
  }
}

/** Sends a signal to one process; one that is gone already is no error. */
export function signalPid(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

/** Everything that must be gone: the group, descendants that left it, and whatever is in its cgroup (even one that double-forked meanwhile). */
function survivors(pgid: number, escaped: readonly ProcStat[], cgroup: string | undefined): number[] {
  const alive = new Set(groupMembers(pgid));
  for (const stat of escaped) if (isSameProcess(stat)) alive.add(stat.pid);
  for (const pid of cgroup === undefined ? [] : cgroupMembers(cgroup)) alive.add(pid);
  return [...alive];
}

async function waitGone(p: Supervised, escaped: readonly ProcStat[], ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  // The leader's exit is an event; only what outlives it (group members, escaped
  // descendants, which are not our children) has to be polled in /proc.
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)));
  await Promise.race([p.ended, timeout]);
  clearTimeout(timer);
  for (;;) {
    if (p.end !== undefined && survivors(p.pid, escaped, p.cgroup).length === 0) return true;
    if (Date.now() >= deadline) return false;
    await delay(POLL_MS);
  }
}

/**
 * Stops a supervised process the way systemd does: the stop signal to its whole process
 * group (and to descendants that escaped it with setsid), a grace period, then SIGKILL of
 * everything still alive. Resolves once every one of those processes is dead (zombies
 * count as dead).
 *
 * @example
 *   const { end, forced } = await stopProcess(p, { signal: 'SIGTERM', timeoutMs: 10_000 });
 */
export async function stopProcess(p: Supervised, options: StopOptions): Promise<StopResult> {
  if (p.pid <= 0) return { end: await p.ended, forced: false, escaped: [] };
  const tree = new Map<number, ProcStat>();
  for (const stat of [...p.knownDescendants(), ...descendants(p.pid)]) tree.set(stat.pid, stat);
  const escaped = [...tree.values()].filter((stat) => stat.pgrp !== p.pid && isSameProcess(stat));

  if (p.control?.deliverStop) p.control.deliverStop(p, options.signal);
  else {
    signalGroup(p.pid, options.signal);
    for (const stat of escaped) signalPid(stat.pid, options.signal);
  }
  if (await waitGone(p, escaped, options.timeoutMs)) return done(p, escaped, false);
  // Paused at a breakpoint: it cannot act on the signal until the developer lets it go,
  // and then it gets its whole grace period.
  const held = (child: Supervised) => options.holdEnds?.aborted !== true && p.control?.held?.(child) === true;
  if (held(p)) {
    while (held(p)) if (await waitGone(p, escaped, HELD_LOOK_MS)) return done(p, escaped, false);
    if (await waitGone(p, escaped, options.timeoutMs)) return done(p, escaped, false);
  }

  signalGroup(p.pid, 'SIGKILL');
  for (const stat of escaped) if (isSameProcess(stat)) signalPid(stat.pid, 'SIGKILL');
  if (p.cgroup !== undefined) signalCgroup(p.cgroup, 'SIGKILL');
  await waitGone(p, escaped, 5_000);
  return done(p, escaped, true);
}

async function done(p: Supervised, escaped: readonly ProcStat[], forced: boolean): Promise<StopResult> {
  if (p.cgroup !== undefined) removeCgroup(p.cgroup);
  return { end: await p.ended, forced, escaped: escaped.map((s) => s.pid) };
}

/**
 * Last resort when airlock itself is going down hard (second Ctrl-C, uncaught error):
 * SIGKILL the group and every known descendant, synchronously.
 */
export function killNow(p: Supervised): void {
  if (p.pid <= 0) return;
  const all = [...p.knownDescendants(), ...descendants(p.pid)];
  signalGroup(p.pid, 'SIGKILL');
  for (const stat of all) if (isSameProcess(stat)) signalPid(stat.pid, 'SIGKILL');
  if (p.cgroup !== undefined) signalCgroup(p.cgroup, 'SIGKILL');
}
