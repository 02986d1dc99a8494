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
