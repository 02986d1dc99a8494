import { describeEnd, isSuccess } from '../supervise/process-end.js';
import { startProcess } from '../supervise/spawn.js';
import { stopProcess } from '../supervise/stop.js';
import { fail, pass, type Probe } from './probe.js';

/** Runs a command (in its own process group); ready when it exits 0 within the timeout. */
export function execProbe(cmd: string, cwd: string, env: Readonly<Record<string, string>>, timeoutMs: number): Probe {
  return async () => {
    const child = startProcess({ command: cmd, cwd, env });
    const timer = setTimeout(() => void stopProcess(child, { signal: 'SIGKILL', timeoutMs: 0 }), timeoutMs);
    const end = await child.ended;
    clearTimeout(timer);
    if (isSuccess(end)) return pass(`${cmd} exited 0`);
    const last = child.tail().slice(-1)[0];
    return fail(`${cmd} ${describeEnd(end)}${last ? `: ${last}` : ''}`);
  };
}
