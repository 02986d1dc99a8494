import assert from 'node:assert/strict';
import { Agent, createServer, request } from 'node:http';
import { describe, it } from 'node:test';
import { serve } from '../src/serve/index.ts';

function get(port: number, agent: Agent): Promise<{ body: string; connection: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/', agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ body, connection: res.headers.connection }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('serve', () => {
  it('listens on PORT without airlock, and drains gently: no new connections, Connection: close on open ones', async () => {
    const server = createServer((_req, res) => res.end('hi'));
    const probe = createServer();
    const port = await new Promise<number>((resolve) => probe.listen(0, '127.0.0.1', () => resolve((probe.address() as { port: number }).port)));
    await new Promise<void>((resolve) => probe.close(() => resolve()));

    const serving = await serve(server, { env: { PORT: String(port) }, graceMs: 300, signals: false });
    assert.equal(serving.mode, 'own');
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    assert.deepEqual(await get(port, agent), { body: 'hi', connection: 'keep-alive' });

    const drained = serving.drain();
    // During the grace the open keep-alive connection is still answered, and told to close.
    assert.deepEqual(await get(port, agent), { body: 'hi', connection: 'close' });
    // The listener is closed: a new connection is refused.
    await assert.rejects(get(port, new Agent()), /ECONNREFUSED/);
    await drained;
    agent.destroy();
  });
});
