import { readFileSync } from 'node:fs';

/** Seconds in a row a plugin may use more CPU than its share before it is stopped (a start-up burst is not a spin). */
export const CPU_GRACE_S = 3;
const PAGE = 4096;
/** /proc's CPU times are in clock ticks, 100 a second on Linux. */
const TICK_MS = 10;

/** Every process below `pid` (and it), from /proc's children lists. */
function tree(pid: number): number[] {
  const pids = [pid];
  for (let i = 0; i < pids.length; i++) {
    const at = pids[i] as number;
    try {
      for (const tid of readFileSync(`/proc/${at}/task/${at}/children`, 'utf8').split(' ')) if (tid.trim() !== '') pids.push(Number(tid));
    } catch {
      // Gone meanwhile.
    }
  }
  return pids;
}

/** Resident bytes and CPU milliseconds (its own and its reaped children's) of one process; zero once gone. */
function usage(pid: number): { rss: number; cpuMs: number } {
  try {
    const rss = Number(readFileSync(`/proc/${pid}/statm`, 'utf8').split(' ')[1]) * PAGE;
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command (which may hold spaces) start after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]);
    return { rss, cpuMs: ticks * TICK_MS };
  } catch {
    return { rss: 0, cpuMs: 0 };
  }
}

/**
 * Watches a sandboxed plugin's process tree from outside it (the plugin cannot lie about
 * it or stop it): resident memory above `memoryMB` ends it at once; CPU time above
 * `cpuMsPerSecond` for CPU_GRACE_S seconds in a row ends it. `onBreach` hears why, once.
 *
 * @example
 *   const stop = watchResources(child.pid, { memoryMB: 64, cpuMsPerSecond: 200 }, (why) => { child.kill('SIGKILL'); report(why); });
 */
export function watchResources(pid: number, limits: { memoryMB?: number; cpuMsPerSecond?: number }, onBreach: (why: string) => void, everyMs = 50): () => void {
  const { memoryMB, cpuMsPerSecond } = limits;
  if (memoryMB === undefined && cpuMsPerSecond === undefined) return () => undefined;
  let windowStart = performance.now();
  let windowCpu: number | undefined;
  let strikes = 0;
  let windows = 0;
  let done = false;
  const timer = setInterval(() => {
    const pids = tree(pid);
    let rss = 0;
    let cpuMs = 0;
    for (const one of pids) {
      const used = usage(one);
      rss += used.rss;
      cpuMs += used.cpuMs;
    }
    if (memoryMB !== undefined && rss > memoryMB * 2 ** 20) return breach(`ran out of memory: ${Math.round(rss / 2 ** 20)} MB resident, over its permissions.memoryMB ${memoryMB}`);
    if (cpuMsPerSecond === undefined) return;
    windowCpu ??= cpuMs;
    const elapsed = performance.now() - windowStart;
    if (elapsed < 1_000) return;
    const perSecond = ((cpuMs - windowCpu) * 1_000) / elapsed;
    windows += 1;
    // The first second is the process starting (Node compiling itself): not a spin.
    strikes = windows > 1 && perSecond > cpuMsPerSecond ? strikes + 1 : 0;
    windowStart = performance.now();
    windowCpu = cpuMs;
    if (strikes >= CPU_GRACE_S) breach(`used ${Math.round(perSecond)} ms of CPU a second for ${CPU_GRACE_S} s, over its permissions.cpuMsPerSecond ${cpuMsPerSecond}`);
  }, everyMs);
  timer.unref();
  const breach = (why: string) => {
    if (done) return;
    done = true;
    clearInterval(timer);
    onBreach(why);
  };
  return () => {
    done = true;
    clearInterval(timer);
  };
}
