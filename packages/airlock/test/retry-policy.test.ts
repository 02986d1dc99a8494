import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_UNSENT_ATTEMPTS, shouldRetry, type FailedAttempt } from '../src/proxy/retry-policy.ts';

const base: FailedAttempt = {
  method: 'GET',
  hasBody: false,
  code: 'UND_ERR_SOCKET',
  attempt: 1,
  elapsedMs: 5,
  holdMs: 30_000,
  responded: false,
  clientGone: false,
  backendAlive: true,
};

describe('proxy retry policy', () => {
  it('retries a request that never reached the app, whatever its method, while the hold lasts', () => {
    assert.equal(shouldRetry({ ...base, method: 'POST', hasBody: true, code: 'ECONNREFUSED' }), true);
    assert.equal(shouldRetry({ ...base, code: 'ECONNREFUSED', attempt: MAX_UNSENT_ATTEMPTS - 1 }), true);
    assert.equal(shouldRetry({ ...base, code: 'ECONNREFUSED', attempt: MAX_UNSENT_ATTEMPTS }), false);
    assert.equal(shouldRetry({ ...base, code: 'ECONNREFUSED', elapsedMs: 30_000 }), false);
  });

  it('sends a sent, idempotent, bodiless request once more at most', () => {
    assert.equal(shouldRetry(base), true);
    assert.equal(shouldRetry({ ...base, attempt: 2 }), false);
    for (const method of ['HEAD', 'OPTIONS', 'PUT', 'DELETE']) assert.equal(shouldRetry({ ...base, method }), true, method);
  });

  it('never retries a POST, a request with a body, or one the app may have acted on and died of', () => {
    assert.equal(shouldRetry({ ...base, method: 'POST' }), false);
    assert.equal(shouldRetry({ ...base, method: 'PATCH' }), false);
    assert.equal(shouldRetry({ ...base, method: 'PUT', hasBody: true }), false);
    assert.equal(shouldRetry({ ...base, backendAlive: false }), false);
  });

  it('never retries once the client left or a response began', () => {
    assert.equal(shouldRetry({ ...base, clientGone: true }), false);
    assert.equal(shouldRetry({ ...base, code: 'ECONNREFUSED', clientGone: true }), false);
    assert.equal(shouldRetry({ ...base, responded: true }), false);
  });
});
