import { readFileSync } from 'node:fs';
import type { ProcStat } from '../supervise/proc.js';
import { processGroups } from '../supervise/process-groups.js';

function rssBytes(pid: number): number {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/**
 * Resident memory of a whole process group plus descendants that left it, in bytes. Asked
 * once a second per generation (and per health interval with health.memory), so members come
 * from the shared ProcessGroups table rather than a full /proc scan each time.
 */
export function groupRss(pgid: number, escaped: readonly ProcStat[] = []): number {
  const pids = new Set([...processGroups.members(pgid), ...escaped.map((stat) => stat.pid)]);
  let total = 0;
  for (const pid of pids) total += rssBytes(pid);
  return total;
}

/** The shortest span a growth rate is measured over: shorter rates are noise. */
const MIN_WINDOW_MS = 50;

/**
 * Watches the growth rate of a process group's memory. A leak or a runaway allocation
 * before readiness should stop the new generation, not the machine.
 *
 * @example
 *   const watch = new MemoryGrowth(10); // MB/s
 *   watch.sample(groupRss(pid), performance.now()); // undefined, or "grew 48.0 MB/s ..."
 */
export class MemoryGrowth {
  #first: { bytes: number; at: number } | undefined;
  #last: { bytes: number; at: number } | undefined;

  constructor(private readonly maxMBps: number) {}

  /** Returns a failure description when growth over the last sample exceeds the limit. */
  sample(bytes: number, at: number): string | undefined {
    // 0: the process is not readable yet (still being exec'd); it is no baseline.
    if (bytes === 0) return undefined;
    const previous = this.#last;
    this.#first ??= { bytes, at };
    if (previous === undefined) this.#last = { bytes, at };
    // Keep the older sample as the baseline until the span is long enough.
    if (previous === undefined || at - previous.at < MIN_WINDOW_MS) return undefined;
    this.#last = { bytes, at };
    const rate = (bytes - previous.bytes) / 1e6 / ((at - previous.at) / 1000);
    if (rate <= this.maxMBps) return undefined;
    return `memory grew ${rate.toFixed(1)} MB/s (limit ${this.maxMBps} MB/s): RSS ${(this.#first.bytes / 1e6).toFixed(0)} → ${(bytes / 1e6).toFixed(0)} MB`;
  }
}
