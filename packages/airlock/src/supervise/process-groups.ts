import { readdirSync } from 'node:fs';
import { readStat, type ProcStat } from './proc.js';

export interface ProcessGroupsOptions {
  /** How a process's stat is read (the real /proc by default; a test counts the reads). */
  readonly readStat?: (pid: number) => ProcStat | undefined;
  /** After this long everything known is read again: a pid reused by a newcomer, or a process that changed groups, is seen within it. */
  readonly refreshMs?: number;
  readonly now?: () => number;
}

/**
 * The members of process groups, found by scanning /proc but remembering each process's
 * group between scans. A full scan reads every process's stat file (about 30 µs each here):
 * once a second per generation on a host with a thousand processes, that is a busy event
 * loop. Processes rarely change groups after they start, so only new pids and the group's
 * own members (which may have died or left) are read again; `refreshMs` bounds how long a
 * reused pid or a late `setpgid` can go unseen. For measuring (memory), not for stopping:
 * stop.ts scans afresh, as a missed member there would outlive its generation.
 *
 * @example
 *   const groups = new ProcessGroups();
 *   setInterval(() => console.log(groups.members(child.pid)), 1000);
 */
export class ProcessGroups {
  readonly #known = new Map<number, number>(); // pid → its process group when last read
  readonly #read: (pid: number) => ProcStat | undefined;
  readonly #refreshMs: number;
  readonly #now: () => number;
  #fullAt = Number.NEGATIVE_INFINITY;

  constructor(options: ProcessGroupsOptions = {}) {
    this.#read = options.readStat ?? readStat;
    this.#refreshMs = options.refreshMs ?? 30_000;
    this.#now = options.now ?? (() => performance.now());
  }

  /** Live members of process group pgid (a zombie is not one). */
  members(pgid: number): number[] {
    if (this.#now() - this.#fullAt > this.#refreshMs) {
      this.#known.clear();
      this.#fullAt = this.#now();
    }
    const listed = new Set<number>();
    const members: number[] = [];
    for (const entry of readdirSync('/proc')) {
      const pid = Number(entry);
      if (!Number.isInteger(pid)) continue;
      listed.add(pid);
      const group = this.#known.get(pid);
      if (group !== undefined && group !== pgid) continue;
      const stat = this.#read(pid);
      if (stat === undefined) {
        this.#known.delete(pid);
        continue;
      }
      this.#known.set(pid, stat.pgrp);
      if (stat.pgrp === pgid && stat.state !== 'Z' && stat.state !== 'X') members.push(pid);
    }
    for (const pid of this.#known.keys()) if (!listed.has(pid)) this.#known.delete(pid);
    return members;
  }
}

/** The one table airlock's memory readings share, so each scan serves every generation. */
export const processGroups = new ProcessGroups();
