import assert from 'node:assert/strict';
import { request } from 'node:http';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { WebSocket } from 'ws';
import { AirlockRun, ROOT, cleanupAfter, freePort, removeProject, tempProject } from './helpers.ts';

/**
 * Long-lived connections open across a reload, on a plain app (no airlock helper): at the
 * end of stop.drain the proxy says goodbye the way each protocol says it, a WebSocket
 * close frame 1001 "going away" and the last chunk of a stream, instead of a reset.
 */
const APP = join(ROOT, 'test', 'fixtures', 'plain-streams.mjs');

describe('long-lived connections at the end of the drain (proxy)', () => {
  const cleanup = cleanupAfter();

  it('closes a WebSocket with 1001 going away and ends an event stream cleanly, and says how many it drains', async () => {
    const dir = tempProject();
    const port = await freePort();
    cleanup(() => removeProject(dir));
    writeFileSync(join(dir, 'airlock.yaml'), `services:\n  app:\n    run: { cmd: node ${APP} }\n    listen: 127.0.0.1:${port}\n    handoff: proxy\n    stop: { drain: 1s }\n`);
    const run = new AirlockRun(['run', '--log-format', 'json'], dir);
    cleanup(() => run.kill());
    await run.waitForEvent('reload.ready', { generation: 1 }, 60_000);

    const socket = new WebSocket(`ws://127.0.0.1:${port}/ws`);
    await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
    const closed = new Promise<{ code: number; reason: string }>((resolve) => socket.once('close', (code, reason) => resolve({ code, reason: String(reason) })));

    const stream = await new Promise<{ ended: Promise<string> }>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path: '/events', agent: false }, (res) => {
        const ended = new Promise<string>((done) => {
          res.on('data', () => undefined);
          res.once('end', () => done('end'));
          res.once('aborted', () => done('aborted'));
          res.once('error', (error) => done(`error ${error.message}`));
        });
        resolve({ ended });
      });
      req.once('error', reject);
      req.end();
    });

    const since = run.events.length;
    run.child.kill('SIGHUP');
    await run.waitForEvent('reload.ready', { generation: 2 }, 60_000, since);
    const notice = await run.waitForMatch((e) => e.type === 'notice' && /draining/.test(String(e.message)), 30_000, since);
    assert.match(String(notice.message), /g1 is draining 1 WebSocket and 1 streaming response/);
    assert.deepEqual(await closed, { code: 1001, reason: 'going away: airlock replaced this version' });
    assert.equal(await stream.ended, 'end', 'the stream ended with its last chunk, not a reset');
  });
});
