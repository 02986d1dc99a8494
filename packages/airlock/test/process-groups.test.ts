import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { setTimeout } from 'node:timers/promises';
import { after, describe, it } from 'node:test';
import { ProcessGroups } from '../src/supervise/process-groups.ts';
import { groupMembers, isAlive, readStat } from '../src/supervise/proc.ts';

/** A process group led by sh that starts one more `sleep` for each line it reads. */
function group(): ChildProcess & { pid: number } {
  const child = spawn('sh', ['-c', 'while read x; do sleep 60 & echo started; done'], { detached: true, stdio: ['pipe', 'pipe', 'inherit'] });
  return child as ChildProcess & { pid: number };
}

async function addMember(child: ChildProcess): Promise<void> {
  child.stdin?.write('go\n');
  await once(child.stdout as NodeJS.ReadableStream, 'data');
}

const started: number[] = [];
after(() => {
  for (const pgid of started) {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});

describe('process groups, kept between reads', () => {
  it('answers what a full /proc scan answers, as members come and go, reading only new processes', async () => {
    let reads = 0;
    const groups = new ProcessGroups({ readStat: (pid) => (reads++, readStat(pid)) });
    const leader = group();
    started.push(leader.pid);
    await addMember(leader);
    await addMember(leader);
    const sorted = (pids: number[]) => [...pids].sort((a, b) => a - b);
    assert.deepEqual(sorted(groups.members(leader.pid)), sorted(groupMembers(leader.pid)));
    assert.equal(groups.members(leader.pid).length, 3);

    // Known processes outside the group are not read again; the members are.
    reads = 0;
    groups.members(leader.pid);
    assert.ok(reads <= 3 + 10, `a second scan read ${reads} stat files (3 members, a margin for processes started meanwhile)`);

    await addMember(leader);
    assert.equal(groups.members(leader.pid).length, 4, 'a member started since the last scan is found');
    const [, sleeper] = sorted(groups.members(leader.pid)).filter((pid) => pid !== leader.pid);
    process.kill(sleeper as number, 'SIGKILL');
    // The signal lands a moment later; its parent sh reaps it when it next runs, and until
    // then a zombie counts as gone already.
    for (let i = 0; i < 500 && isAlive(sleeper as number); i++) await setTimeout(10);
    assert.ok(!isAlive(sleeper as number), 'the member died');
    assert.ok(!groups.members(leader.pid).includes(sleeper as number), 'a killed member is not counted');
  });

  it('forgets everything it knew after refreshMs, so a reused pid is read afresh', () => {
    let reads = 0;
    let now = 0;
    const groups = new ProcessGroups({ readStat: (pid) => (reads++, readStat(pid)), refreshMs: 1000, now: () => now });
    groups.members(process.pid);
    const full = reads;
    reads = 0;
    groups.members(process.pid);
    assert.ok(reads < full, `${reads} reads the second time, ${full} the first`);
    now = 1001;
    reads = 0;
    groups.members(process.pid);
    assert.ok(reads >= full - 5, `after refreshMs every process is read again (${reads} of ${full})`);
  });
});
