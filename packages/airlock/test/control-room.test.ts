import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { controlRequest } from '../src/control/client.ts';
import { MAX_EVENT_STREAMS, startControl, type ControlTarget } from '../src/control/server.ts';
import { AirlockError } from '../src/errors.ts';
import { EventBus } from '../src/events.ts';

/** Clients that hold connections (event streams, requests that never finish their headers) must not lock `airlock status` out. */
const dir = mkdtempSync(join(tmpdir(), 'airlock-control-room-'));
const socketPath = join(dir, 'control.sock');
const sockets: Socket[] = [];
let control: { close(): Promise<void> };
const daemon: ControlTarget = { status: () => [], configRejected: undefined, reload: () => undefined, rollout: async () => ({ status: 409, error: 'no rollout' }) };

before(async () => {
  control = await startControl(socketPath, daemon, new EventBus());
});
after(async () => {
  for (const socket of sockets) socket.destroy();
  await control.close();
  rmSync(dir, { recursive: true, force: true });
});

function open(first: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(socketPath, () => {
      socket.write(first);
      resolve(socket);
    });
    socket.on('error', () => undefined);
    socket.once('error', reject);
    sockets.push(socket);
  });
}

describe('the control socket keeps room for commands', () => {
  it('answers status beside 64 event streams and 64 connections that never finish their headers', async () => {
    for (let i = 0; i < 64; i++) await open('GET /events HTTP/1.1\r\nHost: airlock\r\n\r\n');
    for (let i = 0; i < 64; i++) await open('GET /status HTTP/1.1\r\nHost: air');
    const started = performance.now();
    const { status } = await controlRequest(socketPath, 'GET', '/status');
    assert.equal(status, 200);
    assert.ok(performance.now() - started < 5_000, 'answered at once, not after a timeout');
  });

  it(`refuses an event stream past ${MAX_EVENT_STREAMS} with 503 and the reason`, async () => {
    const answer = await new Promise<string>((resolve) => {
      const socket = createConnection(socketPath, () => socket.write('GET /events HTTP/1.1\r\nHost: airlock\r\n\r\n'));
      sockets.push(socket);
      let text = '';
      socket.setEncoding('utf8').on('data', (chunk: string) => {
        text += chunk;
        if (text.includes('\r\n\r\n')) resolve(text);
      });
    });
    assert.match(answer, /^HTTP\/1\.1 503/);
  });

  it('says the control socket is busy, not an internal error, when airlock cuts the connection', async () => {
    const cutting = join(dir, 'cutting.sock');
    const server = createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => server.listen(cutting, resolve));
    try {
      const busy = await controlRequest(cutting, 'GET', '/status').catch((error: unknown) => error);
      assert.ok(busy instanceof AirlockError, String(busy));
      assert.equal(busy.code, 'CONTROL_BUSY');
      assert.match(busy.message, /the control socket .*cutting\.sock closed the connection/);
    } finally {
      server.close();
    }
  });
});
