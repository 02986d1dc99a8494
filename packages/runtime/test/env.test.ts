import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { airlockEnv } from '../src/env/index.ts';

describe('airlockEnv', () => {
  it('reads the variables airlock sets and ignores malformed ones', () => {
    assert.deepEqual(airlockEnv({ AIRLOCK_SERVICE: 'api', AIRLOCK_GENERATION: '4', PORT: '8080' }), {
      service: 'api',
      generation: 4,
      port: 8080,
    });
    assert.deepEqual(airlockEnv({ PORT: 'eighty' }), { service: undefined, generation: undefined, port: undefined });
  });
});
