import { descendants, isSameProcess, readStat, type ProcStat } from '../supervise/proc.js';
import type { ProcessControl } from '../supervise/process-control.js';
import type { Supervised } from '../supervise/spawn.js';
import { signalPid } from '../supervise/stop.js';

/** How often dlv is looked at once its program was told to stop. */
const FOLLOW_MS = 50;

/** The program dlv runs: its child (in a process group of its own). */
function programsOf(dlv: Supervised): ProcStat[] {
  return descendants(dlv.pid).filter((stat) => stat.ppid === dlv.pid);
}

/**
 * Supervising a program under `dlv exec`. dlv answers SIGTERM by killing its program at
 * once, and with --accept-multiclient it outlives the program, so the stop signal goes to
 * the program (which drains as it would without a debugger) and dlv is ended once the
 * program is gone. The program is held while it is stopped by its tracer ('t' in
 * /proc/PID/stat): paused at a breakpoint, or being looked at.
 *
 * @example
 *   const spawn = { ...plan, command: underDelve(words), control: delveControl() };
 */
export function delveControl(): ProcessControl {
  return {
    deliverStop: (dlv, name) => {
      const programs = programsOf(dlv);
      if (programs.length === 0) return signalPid(dlv.pid, name);
      for (const program of programs) signalPid(program.pid, name);
      const follow = setInterval(() => {
        if (programs.some(isSameProcess)) return;
        clearInterval(follow);
        signalPid(dlv.pid, 'SIGTERM');
      }, FOLLOW_MS);
      void dlv.ended.then(() => clearInterval(follow));
    },
    held: (dlv) => programsOf(dlv).some((program) => readStat(program.pid)?.state === 't'),
  };
}
