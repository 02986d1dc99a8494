import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { isAlive, readStat } from '../src/supervise/proc.ts';
import { commandArgv } from '../src/supervise/command.ts';
import { describeEnd, exitCodeOf } from '../src/supervise/process-end.ts';
import { startProcess, type Supervised } from '../src/supervise/spawn.ts';
import { killNow, stopProcess } from '../src/supervise/stop.ts';

const started: Supervised[] = [];
const extraPids: number[] = [];
after(() => {
  for (const p of started) killNow(p);
  for (const pid of extraPids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
});

function start(command: string): Supervised {
  const p = startProcess({ command, cwd: process.cwd(), env: { PATH: process.env.PATH ?? '' }, trackEveryMs: 50 });
  started.push(p);
  return p;
}

/** Resolves with the first output line matching pattern. */
function lineOf(command: string, pattern: RegExp): { p: Supervised; line: Promise<string> } {
  let resolveLine: (line: string) => void = () => undefined;
  const line = new Promise<string>((resolve) => (resolveLine = resolve));
  const p = startProcess({
    command,
    cwd: process.cwd(),
    env: { PATH: process.env.PATH ?? '' },
    onLine: (_stream, text) => {
      if (pattern.test(text)) resolveLine(text);
    },
  });
  started.push(p);
  return { p, line };
}

describe('process ends as data', () => {
  it('reports exit codes and signals, and the shell exit code', async () => {
    const exit = await start('sh -c "exit 3"').ended;
    assert.deepEqual(exit, { kind: 'exit', code: 3 });
    assert.equal(describeEnd(exit), 'exited with code 3');
    const killed = await start('sh -c "kill -SEGV $$"').ended;
    assert.deepEqual(killed, { kind: 'signal', signal: 'SIGSEGV' });
    assert.equal(exitCodeOf(killed), 139);
  });

  it('reports a program that does not exist as exit 127', async () => {
    const p = start('/no/such/program');
    assert.equal(await p.spawned, false);
    assert.deepEqual(await p.ended, { kind: 'exit', code: 127 });
    assert.match(p.tail().join('\n'), /ENOENT/);
  });

  it('runs plain commands directly and shell syntax under sh', () => {
    assert.deepEqual(commandArgv('bin/app --port 80'), ['bin/app', '--port', '80']);
    assert.deepEqual(commandArgv('a && b'), ['/bin/sh', '-c', 'a && b']);
    assert.deepEqual(commandArgv('FOO=1 app'), ['/bin/sh', '-c', 'FOO=1 exec app']);
    assert.deepEqual(commandArgv(`node -e "a(); b | c"`), ['/bin/sh', '-c', `exec node -e "a(); b | c"`]);
    assert.deepEqual(commandArgv('a; b'), ['/bin/sh', '-c', 'a; b']);
    assert.deepEqual(commandArgv('if true; then x; fi'), ['/bin/sh', '-c', 'if true; then x; fi']);
  });
});

describe('stopping a process group', () => {
  it('puts each child in its own process group', async () => {
    const { p, line } = lineOf('echo up; sleep 30', /up/);
    await line;
    assert.equal(readStat(p.pid)?.pgrp, p.pid);
    const result = await stopProcess(p, { signal: 'SIGTERM', timeoutMs: 5_000 });
    assert.equal(result.forced, false);
  });

  it('sends SIGKILL to the group when the grace period runs out', async () => {
    const { p, line } = lineOf(`node -e "process.on('SIGTERM', () => {}); console.log('up'); setInterval(() => {}, 1000)"`, /up/);
    await line;
    const result = await stopProcess(p, { signal: 'SIGTERM', timeoutMs: 200 });
    assert.equal(result.forced, true);
    assert.deepEqual(result.end, { kind: 'signal', signal: 'SIGKILL' });
    assert.ok(!isAlive(p.pid));
  });

  it('also stops a grandchild that left the group with setsid', async () => {
    const { p, line } = lineOf(`setsid sh -c 'echo grandchild=$$; exec sleep 300' & wait`, /grandchild=/);
    const grandchild = Number((await line).split('=')[1]);
    extraPids.push(grandchild);
    assert.notEqual(readStat(grandchild)?.pgrp, p.pid, 'it really left the group');
    const result = await stopProcess(p, { signal: 'SIGTERM', timeoutMs: 2_000 });
    assert.ok(result.escaped.includes(grandchild));
    assert.ok(!isAlive(grandchild));
  });

  it('finds an escaped grandchild even after its parent died first', async () => {
    const { p, line } = lineOf(`setsid sh -c 'echo grandchild=$$; exec sleep 300' & sleep 0.3`, /grandchild=/);
    const grandchild = Number((await line).split('=')[1]);
    extraPids.push(grandchild);
    await p.ended;
    assert.ok(isAlive(grandchild), 'orphaned, still running');
    await stopProcess(p, { signal: 'SIGTERM', timeoutMs: 2_000 });
    assert.ok(!isAlive(grandchild));
  });

  it('counts a zombie as dead', async () => {
    // The grandchild exits at once; its parent never waits for it, so it stays a zombie.
    // The shell starts a short sleep, then becomes `sleep 300`, which never waits for it:
    // once the short one ends it is a zombie for sure (still running at the exec, so the
    // shell cannot have reaped it first).
    const { p, line } = lineOf(`sh -c 'sleep 0.2 & echo child=$!; exec sleep 300'`, /child=/);
    const child = Number((await line).split('=')[1]);
    for (let i = 0; i < 200 && readStat(child)?.state !== 'Z'; i++) await new Promise((r) => setTimeout(r, 10)); // no event tells a child became a zombie
    assert.equal(readStat(child)?.state, 'Z', 'the child is a zombie');
    assert.equal(isAlive(child), false);
    await stopProcess(p, { signal: 'SIGTERM', timeoutMs: 2_000 });
    assert.equal(isAlive(child), false);
  });
});
