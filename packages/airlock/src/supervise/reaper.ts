import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';

/**
 * This airlock's id: every process it starts carries AIRLOCK_TAG=<INSTANCE>.<uuid>, so
 * whatever it left behind can be found by its environment, whoever its parent is now.
 */
export const INSTANCE = randomBytes(8).toString('hex');

/**
 * Waits for its stdin to close (airlock exited, however: Ctrl-C, a crash, SIGKILL, the
 * OOM killer), then SIGKILLs every process whose environment has this airlock's tag
 * prefix, in rounds until none is left (a dying parent may fork once more).
 */
const SCRIPT = `
cat >/dev/null
for round in 1 2 3 4 5; do
  found=
  for env in /proc/[0-9]*/environ; do
    if grep -qsz "^AIRLOCK_TAG=$1\\\\." "$env"; then
      pid=\${env#/proc/}
      kill -KILL "\${pid%/environ}" 2>/dev/null && found=1
    fi
  done
  [ -z "$found" ] && exit 0
done
`;

/**
 * Starts the reaper: a small shell process in its own session that outlives airlock and
 * ends every process airlock started once airlock is gone. Node cannot make children
 * die with it (no PR_SET_PDEATHSIG, no subreaper), and a SIGKILLed airlock runs no exit
 * hook; the kernel closing the pipe is the one signal that always arrives.
 *
 * @example
 *   startReaper(); // once, before the first service starts
 */
export function startReaper(): void {
  const reaper = spawn('/bin/sh', ['-c', SCRIPT, 'airlock-reaper', INSTANCE], { detached: true, stdio: ['pipe', 'ignore', 'ignore'] });
  reaper.on('error', () => undefined);
  // Its pipe breaks only when the reaper died first: nothing to do then, and nothing to crash on.
  reaper.stdin?.on('error', () => undefined);
  reaper.unref();
  // The pipe must not keep airlock alive; it only has to close when airlock ends.
  (reaper.stdin as unknown as Socket | null)?.unref();
}
