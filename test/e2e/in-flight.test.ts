import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { WebSocket } from 'ws';
import { AirlockRun, freePort, get, removeProject, ROOT, tempProject, cleanupAfter } from './helpers.ts';

const APP = join(ROOT, 'test', 'fixtures', 'slow-ws-app.mjs');

function open(port: number): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`ws://127.0.0.1:${port}/ws`);
    socket.once('open', () => resolve(socket));
    socket.once('error', reject);
  });
}

function echo(socket: WebSocket, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    socket.once('message', (data) => resolve(String(data)));
    socket.once('error', reject);
    socket.send(text);
  });
}

async function startService(handoff: string, drain = '30s') {
  const dir = tempProject();
  const port = await freePort();
  writeFileSync(
    join(dir, 'airlock.yaml'),
    `services:\n  app:\n    run: { cmd: node ${APP} }\n    listen: ${port}\n    handoff: ${handoff}\n    stop: { drain: ${drain} }\n`,
  );
  const run = new AirlockRun(['run', '--log-format', 'json'], dir);
  await run.waitForEvent('reload.ready', { generation: 1 }, 60_000);
  return { dir, port, run };
}

for (const handoff of ['proxy', 'fd']) {
  describe(`in-flight work across a swap (${handoff})`, () => {
    const cleanup = cleanupAfter();

    it('completes a 2 s request that was in flight during the swap', async () => {
      const { dir, port, run } = await startService(handoff);
      cleanup(() => run.kill(), () => removeProject(dir));
      const slow = get(port, '/slow');
      await run.waitForEvent('process.output', { line: 'slow request in flight on 1' });
      run.child.kill('SIGHUP');
      await run.waitForEvent('reload.ready', { generation: 2 });
      // fd: both accept from one queue until the old one has closed its listener.
      while ((await get(port)) !== 'generation 2\n') await new Promise((r) => setTimeout(r, 10));
      assert.equal(await slow, 'slow from 1\n');
      await run.interrupt();
    });
  });
}

describe('WebSockets across a swap (proxy)', () => {
  const cleanup = cleanupAfter();

  it('keeps an open WebSocket on the old generation until its drain timeout, and opens new ones on the new', async () => {
    const { dir, port, run } = await startService('proxy', '2s');
    cleanup(() => run.kill(), () => removeProject(dir));
    const before = await open(port);
    cleanup(() => before.terminate());
    assert.equal(await echo(before, 'a'), '1:a');

    const closed = new Promise<number>((resolve) => before.once('close', () => resolve(performance.now())));
    run.child.kill('SIGHUP');
    const ready = await run.waitForEvent('reload.ready', { generation: 2 });
    const swappedAt = performance.now();
    assert.equal(await echo(before, 'b'), '1:b', 'the old socket still works after the swap');
    const after = await open(port);
    cleanup(() => after.terminate());
    assert.equal(await echo(after, 'c'), '2:c');
    assert.ok(ready);
    await run.waitForEvent('generation.drained', { generation: 1 }, 30_000);
    const closedAt = await closed;
    // stop.drain is 2 s: the old socket lived that long after the swap, then was closed.
    assert.ok(closedAt - swappedAt >= 1_500, `closed ${Math.round(closedAt - swappedAt)} ms after the swap`);
    assert.equal(await echo(after, 'd'), '2:d', 'the new socket is untouched');
    await run.interrupt();
  });
});

describe('exec probe (proxy)', () => {
  const cleanup = cleanupAfter();

  it('runs with the new generation’s own PORT, so it checks that generation and not the old one', async () => {
    const dir = tempProject();
    const port = await freePort();
    const check = `node -e "fetch('http://127.0.0.1:' + process.env.PORT + '/').then((r) => r.text()).then((t) => process.exit(t.includes('generation ' + process.env.AIRLOCK_GENERATION) ? 0 : 1), () => process.exit(1))"`;
    writeFileSync(
      join(dir, 'airlock.yaml'),
      `services:\n  app:\n    run: { cmd: node ${APP} }\n    listen: ${port}\n    handoff: proxy\n    health: { exec: ${JSON.stringify(check)}, startTimeout: 10s }\n`,
    );
    const run = new AirlockRun(['run', '--log-format', 'json'], dir);
    cleanup(() => run.kill(), () => removeProject(dir));
    await run.waitForEvent('reload.ready', { generation: 1 }, 30_000);
    run.child.kill('SIGHUP');
    await run.waitForEvent('reload.ready', { generation: 2 }, 30_000);
    assert.equal(await get(port), 'generation 2\n');
    await run.interrupt();
  });
});

describe('stopping airlock while a request is in flight (proxy)', () => {
  const cleanup = cleanupAfter();

  it('lets the generation drain it: one stop signal, not two', async () => {
    const { dir, port, run } = await startService('proxy');
    cleanup(() => run.kill(), () => removeProject(dir));
    const slow = get(port, '/slow');
    await run.waitForEvent('process.output', { line: 'slow request in flight on 1' });
    const { code } = await run.interrupt();
    assert.equal(code, 0);
    assert.equal(await slow, 'slow from 1\n');
  });
});
