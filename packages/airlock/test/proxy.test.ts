import assert from 'node:assert/strict';
import { createServer, request, type Server } from 'node:http';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { HttpProxy } from '../src/proxy/http-proxy.ts';

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)));
}

function call(port: number, method: string, path: string, body?: string, headers: Record<string, string> = {}) {
  return new Promise<{ status: number; headers: Record<string, unknown>; body: string }>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('HTTP proxy', () => {
  const errors: string[] = [];
  let upstream: Server;
  let upstreamPort: number;
  let proxy: HttpProxy;
  let port: number;

  before(async () => {
    upstream = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        res.setHeader('keep-alive', 'timeout=99');
        res.setHeader('set-cookie', ['a=1', 'b=2']);
        res.end(JSON.stringify({ method: req.method, url: req.url, body, headers: req.headers }));
      });
    });
    upstreamPort = await listen(upstream);
    proxy = new HttpProxy({ service: 'api', host: '127.0.0.1', port: 0, holdMs: 300, onError: (m) => errors.push(m) });
    await proxy.listen();
    port = proxy.address.port;
  });

  after(async () => {
    proxy.destroy();
    upstream.closeAllConnections();
    upstream.close();
  });

  it('answers 431 to request headers over 16 KiB, as Node and nginx do, and 400 to a request it cannot parse', async () => {
    const raw = (text: string) =>
      new Promise<string>((resolve) => {
        const socket = connect(port, '127.0.0.1', () => socket.end(text));
        let got = '';
        socket.setEncoding('utf8').on('data', (chunk: string) => (got += chunk));
        socket.on('close', () => resolve(got));
        socket.on('error', () => resolve(got));
      });
    const big = await raw(`GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20 * 1024)}\r\n\r\n`);
    assert.match(big, /^HTTP\/1\.1 431 Request Header Fields Too Large\r\n/);
    assert.match(big, /request headers are larger than 16 KiB/);
    assert.match(await raw('NOT HTTP AT ALL\r\n\r\n'), /^HTTP\/1\.1 400 Bad Request\r\n/);
  });

  it('holds requests while no generation is ready, then answers 502 naming the service', async () => {
    const started = performance.now();
    const response = await call(port, 'GET', '/');
    assert.equal(response.status, 502);
    assert.equal(response.body, 'no generation of api became ready within 300 ms\n');
    assert.ok(performance.now() - started >= 290);
  });

  it('releases held requests the moment a generation is ready', async () => {
    const pending = call(port, 'GET', '/held');
    setTimeout(() => proxy.setActive({ generation: 1, host: '127.0.0.1', port: upstreamPort }), 50);
    const response = await pending;
    assert.equal(response.status, 200);
    assert.equal(JSON.parse(response.body).url, '/held');
  });

  it('streams bodies, adds X-Forwarded-*, drops hop-by-hop headers both ways, keeps repeated headers', async () => {
    const response = await call(port, 'POST', '/echo?x=1', 'payload', { 'x-custom': 'yes', 'x-forwarded-for': '10.0.0.1', connection: 'keep-alive, x-custom' });
    const seen = JSON.parse(response.body) as { method: string; url: string; body: string; headers: Record<string, string> };
    assert.equal(seen.method, 'POST');
    assert.equal(seen.url, '/echo?x=1');
    assert.equal(seen.body, 'payload');
    assert.equal(seen.headers['x-forwarded-for'], '10.0.0.1, 127.0.0.1');
    assert.equal(seen.headers['x-forwarded-proto'], 'http');
    assert.equal(seen.headers['x-forwarded-host'], `127.0.0.1:${port}`);
    assert.equal(seen.headers['x-custom'], undefined, 'named in Connection, so hop-by-hop');
    assert.notEqual(response.headers['keep-alive'], 'timeout=99', 'the upstream connection header is not passed on');
    assert.deepEqual(response.headers['set-cookie'], ['a=1', 'b=2']);
  });

  it('retries a request the generation refused (nothing was sent) once a replacement is up', async () => {
    const dead = createServer();
    const deadPort = await listen(dead);
    await new Promise<void>((resolve) => dead.close(() => resolve()));
    proxy.setActive({ generation: 2, host: '127.0.0.1', port: deadPort });
    // The GET finds nobody on g2 (refused, nothing sent) and waits; g3 comes up and answers it.
    const get = call(port, 'GET', '/again');
    setTimeout(() => proxy.setActive({ generation: 3, host: '127.0.0.1', port: upstreamPort }), 30);
    assert.equal((await get).status, 200);
    assert.ok(errors.some((line) => /GET \/again → g2: ECONNREFUSED .*\(retrying\)/.test(line)), errors.join('\n'));
  });

  it('does not retry a POST whose connection died after it was sent', async () => {
    const rude = createServer((req) => req.socket.destroy());
    const rudePort = await listen(rude);
    proxy.setActive({ generation: 4, host: '127.0.0.1', port: rudePort });
    const response = await call(port, 'POST', '/order', 'one order');
    assert.equal(response.status, 502);
    assert.equal(errors.filter((line) => line.startsWith('POST /order')).length, 1, 'one attempt only');
    const get = await call(port, 'GET', '/twice');
    assert.equal(get.status, 502);
    assert.ok(errors.filter((line) => line.startsWith('GET /twice')).length > 1, 'an idempotent GET was retried');
    rude.close();
  });

  it('sends a GET that failed after it was sent once more at most, and never to a generation that died', async () => {
    const rude = createServer((req) => req.socket.destroy());
    const rudePort = await listen(rude);
    proxy.setActive({ generation: 5, host: '127.0.0.1', port: rudePort });
    assert.equal((await call(port, 'GET', '/once-more')).status, 502);
    assert.equal(errors.filter((line) => line.startsWith('GET /once-more')).length, 2, 'the first attempt and one retry');
    proxy.setActive({ generation: 6, host: '127.0.0.1', port: rudePort, alive: () => false });
    assert.equal((await call(port, 'GET', '/die')).status, 502);
    assert.deepEqual(
      errors.filter((line) => line.startsWith('GET /die')).map((line) => line.endsWith('(retrying)')),
      [false],
      'a request whose generation died is not replayed',
    );
    rude.close();
  });

  it('answers 503 with the reason at once while the service is crash-looping, and serves again once a generation is ready', async () => {
    proxy.setActive(undefined);
    proxy.setUnavailable('api is crash-looping: g7: exited with code 1 before it was ready');
    const started = performance.now();
    const response = await call(port, 'GET', '/');
    assert.equal(response.status, 503);
    assert.equal(response.body, 'api is crash-looping: g7: exited with code 1 before it was ready\n');
    assert.ok(performance.now() - started < 250, 'not held for proxy.hold');
    proxy.setActive({ generation: 8, host: '127.0.0.1', port: upstreamPort });
    assert.equal((await call(port, 'GET', '/')).status, 200);
  });

  it('sends nothing for a client that left while its request was held', async () => {
    proxy.setActive(undefined);
    const urls: string[] = [];
    const watcher = createServer((req, res) => {
      urls.push(req.url ?? '');
      res.end('ok');
    });
    const watched = await listen(watcher);
    try {
      const gone = request({ host: '127.0.0.1', port, path: '/left-while-held', agent: false });
      gone.on('error', () => undefined);
      gone.end();
      await new Promise((resolve) => setTimeout(resolve, 50));
      gone.destroy();
      await new Promise((resolve) => setTimeout(resolve, 50));
      proxy.setActive({ generation: 9, host: '127.0.0.1', port: watched });
      assert.equal((await call(port, 'GET', '/after')).status, 200);
      assert.deepEqual(urls, ['/after'], 'the request of the client that left never reached the app');
    } finally {
      watcher.close();
    }
  });
});
