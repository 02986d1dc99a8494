import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { AirlockRun, freePort, get, isAlive, removeProject, tempProject } from './helpers.ts';

describe('airlock dev on a Node service (examples/node-hello)', () => {
  const runs: AirlockRun[] = [];
  const dirs: string[] = [];
  after(() => {
    runs.forEach((run) => run.kill());
    dirs.forEach(removeProject);
  });
  const start = (args: string[], dir: string) => {
    const run = new AirlockRun(args, dir);
    runs.push(run);
    return run;
  };
  const project = (example?: string) => {
    const dir = tempProject(example);
    dirs.push(dir);
    return dir;
  };

  it('serves an edit after the reload', async () => {
    const dir = project('node-hello');
    const port = await freePort();
    writeFileSync(join(dir, 'airlock.yaml'), `services:\n  hello:\n    node: {}\n    listen: ${port}\n`);
    const run = start(['--log-format', 'json'], dir);
    await run.waitForEvent('reload.ready', { generation: 1 });
    assert.equal(await get(port), 'hello from node-hello (generation 1)\n');
    const since = run.events.length;
    const server = join(dir, 'server.js');
    writeFileSync(server, readFileSync(server, 'utf8').replace('hello from node-hello', 'edited node-hello'));
    await run.waitForEvent('reload.ready', {}, 30_000, since);
    assert.match(String(await get(port)), /^edited node-hello/);
  });

  it('works with no config file (preset + flags) and prints the reload line with phase timings', async () => {
    const dir = project('node-hello');
    rmSync(join(dir, 'airlock.yaml'));
    const port = await freePort();
    const run = start(['dev', '--listen', String(port)], dir);
    const line = await run.waitForLine(/ready in/);
    assert.match(line, /^node-hello g1 ready in \d+ ms: detect \d+ · start \d+ · ready \d+ · swap \d+ \(pid \d+\)$/);
  });

  it('without listen, says once that reloads have a gap, says "started" (nothing was probed), and says what Ctrl-C does', async () => {
    const dir = project();
    const run = start(['dev', '--run', 'node -e "setInterval(() => {}, 1000)"'], dir);
    await run.waitForLine(/ g1 started in \d+ ms: /);
    assert.equal(run.lines.filter((line) => line.includes('no listen address: each reload stops the old process before the new one starts')).length, 1);
    const { code } = await run.interrupt();
    assert.equal(code, 0);
    assert.ok(run.lines.includes('airlock: SIGINT: stopping 1 service gracefully (stop signal, then SIGKILL after stop.timeout); SIGINT again kills every process at once'), run.output());
    assert.ok(run.lines.some((line) => /^airlock: stopped 1 service in \d+ ms; nothing left running$/.test(line)), run.output());
  });

  it('shows a crash at start once: its output as it came, not again as the failure tail', async () => {
    const dir = project();
    const port = await freePort();
    const run = start(['dev', '--run', 'node -e "console.error(\'the one line\'); process.exit(4)"', '--listen', String(port)], dir);
    await run.waitForLine(/exited with code 4 before it was ready/);
    assert.equal(run.lines.filter((line) => line.includes('the one line')).length, 1, run.output());
    await run.interrupt();
  });

  it('restarts a crashing child with growing backoff and says how it ended', async () => {
    const dir = project();
    const run = start(['dev', '--run', 'node -e "process.exit(3)"', '--log-format', 'json'], dir);
    const first = await run.waitForEvent('process.restarting');
    const exited = run.events.find((e) => e.type === 'process.exited');
    assert.ok(exited);
    assert.deepEqual(exited.end, { kind: 'exit', code: 3 });
    assert.equal(exited.expected, false);
    const second = await run.waitForEvent('process.restarting', {}, 30_000, run.events.indexOf(first) + 1);
    assert.ok((second.delayMs as number) > (first.delayMs as number), `${second.delayMs} > ${first.delayMs}`);
    const { code } = await run.interrupt();
    assert.equal(code, 0);
  });

  it('kills everything at the second Ctrl-C and exits 130', async () => {
    const dir = project();
    // Ignores SIGTERM, so only the forced stop can end it.
    const program = "process.on('SIGTERM', () => console.log('ignoring SIGTERM')); console.log('up'); setInterval(() => {}, 1000)";
    writeFileSync(join(dir, 'stubborn.js'), program);
    const run = start(['dev', '--run', 'node stubborn.js', '--stop-timeout', '60s', '--log-format', 'json'], dir);
    const started = await run.waitForEvent('process.started');
    await run.waitForLine(/"line":"up"/, 30_000, 0);
    run.child.kill('SIGINT');
    await run.waitForLine(/ignoring SIGTERM/);
    const { code } = await run.interrupt('SIGINT');
    assert.equal(code, 130);
    assert.ok(!isAlive(started.pid as number));
  });
});
