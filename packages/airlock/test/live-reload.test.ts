import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { injectable } from '../src/browser/inject.ts';

describe('which responses live reload adds its script to', () => {
  it('HTML pages with a body, uncompressed, not opted out', () => {
    assert.equal(injectable('GET', 200, { 'content-type': 'text/html; charset=utf-8' }), true);
    assert.equal(injectable('GET', 404, { 'content-type': 'TEXT/HTML' }), true, 'an error page of the app reloads too');
    assert.equal(injectable('GET', 200, { 'content-type': 'text/html', 'content-encoding': 'identity' }), true);
  });

  it('nothing else: other types, compressed bodies, no body, opted out', () => {
    assert.equal(injectable('GET', 200, { 'content-type': 'application/json' }), false);
    assert.equal(injectable('GET', 200, { 'content-type': 'text/event-stream' }), false);
    assert.equal(injectable('GET', 200, {}), false);
    assert.equal(injectable('GET', 200, { 'content-type': 'text/html', 'content-encoding': 'gzip' }), false);
    assert.equal(injectable('GET', 200, { 'content-type': 'text/html', 'content-encoding': 'br' }), false);
    assert.equal(injectable('HEAD', 200, { 'content-type': 'text/html' }), false);
    assert.equal(injectable('GET', 304, { 'content-type': 'text/html' }), false);
    assert.equal(injectable('GET', 204, { 'content-type': 'text/html' }), false);
    assert.equal(injectable('GET', 200, { 'content-type': 'text/html', 'x-airlock-live-reload': 'off' }), false);
  });
});

describe('the dashboard guard', async () => {
  const { allowedHosts, guard } = await import('../src/browser/guard.ts');
  const hosts = allowedHosts('127.0.0.1', 9465);
  const token = 'a'.repeat(24);
  const req = (method: string, url: string, headers: Record<string, string>) => ({ method, url, headers }) as unknown as import('node:http').IncomingMessage;

  it('answers its own address under the loopback names only', () => {
    assert.deepEqual([...hosts], ['127.0.0.1:9465', 'localhost:9465', '[::1]:9465']);
    assert.equal(guard(req('GET', `/?token=${token}`, { host: 'localhost:9465' }), { hosts, token }), undefined);
    assert.equal(guard(req('GET', `/?token=${token}`, { host: 'attacker.example:9465' }), { hosts, token })?.status, 421);
  });

  it('wants the token everywhere but the static script, and the own Origin for actions', () => {
    assert.equal(guard(req('GET', '/api/status', { host: '127.0.0.1:9465', 'x-airlock-token': 'b'.repeat(24) }), { hosts, token })?.status, 401);
    assert.equal(guard(req('GET', '/app.js', { host: '127.0.0.1:9465' }), { hosts, token, open: new Set(['/app.js']) }), undefined);
    assert.equal(guard(req('POST', '/api/reload', { host: '127.0.0.1:9465', 'x-airlock-token': token, origin: 'http://127.0.0.1:9465' }), { hosts, token }), undefined);
    assert.equal(guard(req('POST', '/api/reload', { host: '127.0.0.1:9465', 'x-airlock-token': token, origin: 'http://localhost:9465' }), { hosts, token })?.status, 403);
  });
});
