import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';

const FIXTURE = fileURLToPath(new URL('./fixtures/fatal-watch.ts', import.meta.url));

describe('an error nothing handled', () => {
  for (const [kind, message] of [
    ['exception', 'boom'],
    ['reject', 'rejected'],
  ] as const) {
    it(`(${kind}) is reported once as AIRLOCK_ERR_INTERNAL, ends the children, and exits 2 with a watcher open`, () => {
      const result = spawnSync(process.execPath, ['--import', 'tsx', FIXTURE, kind], { encoding: 'utf8', timeout: 30_000 });
      assert.equal(result.status, 2, result.stderr);
      assert.match(result.stderr, new RegExp(`^airlock: airlock stopped on an unexpected error: ${message}$`, 'm'));
      assert.match(result.stderr, /AIRLOCK_ERR_INTERNAL: This is a bug in airlock/);
      assert.match(result.stderr, /^children ended$/m);
      assert.doesNotMatch(result.stderr, /double free/);
    });
  }
});
