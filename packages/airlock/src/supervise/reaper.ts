import { spawn } from 'node:child_process';
import type { Socket } from 'node:net';
import { cgroupRoot } from './cgroup.js';
import { INSTANCE } from './instance.js';

export { INSTANCE };

/**
 * Waits for its stdin to close (airlock exited, however: Ctrl-C, a crash, SIGKILL, the
 * OOM killer), then SIGKILLs every process in this airlock's cgroups ($2, when it has
 * them) and every process whose environment has its tag prefix, in rounds until none is
 * left (a dying parent may fork once more), and removes the cgroups.
 */
const SCRIPT = `
cat >/dev/null
for round in 1 2 3 4 5; do
  found=
  if [ -n "$2" ]; then
    for procs in "$2"/*/cgroup.procs; do
      [ -f "$procs" ] || continue
      while read -r pid; do kill -KILL "$pid" 2>/dev/null && found=1; done < "$procs"
    done
  fi
  for env in /proc/[0-9]*/environ; do
    if grep -qsz "^AIRLOCK_TAG=$1\\\\." "$env"; then
      pid=\${env#/proc/}
      kill -KILL "\${pid%/environ}" 2>/dev/null && found=1
    fi
  done
  [ -z "$found" ] && break
done
if [ -n "$2" ]; then
  for cgroup in "$2"/*/; do rmdir "$cgroup" 2>/dev/null; done
  rmdir "$2" 2>/dev/null
fi
exit 0
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
  const reaper = spawn('/bin/sh', ['-c', SCRIPT, 'airlock-reaper', INSTANCE, cgroupRoot() ?? ''], { detached: true, stdio: ['pipe', 'ignore', 'ignore'] });
  reaper.on('error', () => undefined);
  // Its pipe breaks only when the reaper died first: nothing to do then, and nothing to crash on.
  reaper.stdin?.on('error', () => undefined);
  reaper.unref();
  // The pipe must not keep airlock alive; it only has to close when airlock ends.
  (reaper.stdin as unknown as Socket | null)?.unref();
}
