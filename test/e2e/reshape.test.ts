import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { AirlockRun, cleanupAfter, freePort, getOnce, getUntil, removeProject, tempProject } from './helpers.ts';

/**
 * An edit of listen or handoff never leaves the service without a working version: a new
 * address is opened (and checked) before the old one closes; a shape that cannot serve
 * is undone.
 */
const APP = `node -e "require('http').createServer((q, s) => s.end('v' + process.env.AIRLOCK_GENERATION)).listen(Number(process.env.PORT), '127.0.0.1')"`;
const yaml = (listen: number, handoff: string) => `services:\n  app:\n    run: { cmd: "${APP.replaceAll('"', '\\"')}" }\n    listen: 127.0.0.1:${listen}\n    handoff: ${handoff}\n    stop: { drain: 1s }\n`;

describe('editing listen or handoff of a running service', () => {
  const cleanup = cleanupAfter();

  async function start(port: number) {
    const dir = tempProject();
    cleanup(() => removeProject(dir));
    writeFileSync(join(dir, 'airlock.yaml'), yaml(port, 'proxy'));
    const run = new AirlockRun(['dev', '--log-format', 'json'], dir);
    cleanup(() => run.kill());
    await run.waitForEvent('reload.ready', { generation: 1 }, 60_000);
    return { dir, run };
  }

  it('keeps the old address serving when the new one is held by another program, and says which', async () => {
    const port = await freePort();
    const taken = await freePort();
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(taken, '127.0.0.1', resolve));
    cleanup(() => holder.close());
    const { dir, run } = await start(port);
    const since = run.events.length;
    writeFileSync(join(dir, 'airlock.yaml'), yaml(taken, 'proxy'));
    const refused = await run.waitForMatch((e) => e.type === 'error' && e.service === 'app' && /listen/.test(String(e.message)), 30_000, since);
    assert.equal(refused.code, 'AIRLOCK_ERR_LISTEN_FAILED');
    assert.match(String(refused.message), new RegExp(`cannot listen on 127\\.0\\.0\\.1:${taken}.*g1 keeps serving on 127\\.0\\.0\\.1:${port}`));
    assert.equal(await getOnce(port), 'v1');
  });

  it('opens a new free address beside the old one and closes the old one only once the new one serves', async () => {
    const port = await freePort();
    const moved = await freePort();
    const { dir, run } = await start(port);
    const since = run.events.length;
    writeFileSync(join(dir, 'airlock.yaml'), yaml(moved, 'proxy'));
    await run.waitForEvent('reload.ready', { generation: 2 }, 60_000, since);
    assert.equal(await getUntil(moved, '/', (body) => body === 'v2', 'the new address'), 'v2');
    // The old address answered until the new one was ready: no event of g1 ending came before g2 was ready.
    const g1Ended = run.events.findIndex((e, i) => i >= since && e.type === 'process.exited' && e.generation === 1);
    const g2Ready = run.events.findIndex((e, i) => i >= since && e.type === 'reload.ready' && e.generation === 2);
    assert.ok(g1Ended === -1 || g1Ended > g2Ready, 'g1 stopped after g2 was ready');
  });

  it('puts the old shape back when the new handoff cannot serve (a plain app under fd binds the address airlock holds)', async () => {
    const port = await freePort();
    const { dir, run } = await start(port);
    const since = run.events.length;
    writeFileSync(join(dir, 'airlock.yaml'), yaml(port, 'fd'));
    const restored = await run.waitForMatch((e) => e.type === 'error' && e.service === 'app' && /put back/.test(String(e.message)), 60_000, since);
    assert.match(String(restored.message), /^handoff: fd on 127\.0\.0\.1:\d+ could not serve \(g2: exited .*the app binds .*\): the previous shape \(handoff: proxy on 127\.0\.0\.1:\d+\) is put back/);
    assert.match(await getUntil(port, '/', (body) => /^v\d+$/.test(body), 'serving again'), /^v\d+$/);
  });
});
