import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';

const FIXTURE = fileURLToPath(new URL('./fixtures/fatal-watch.ts', import.meta.url));

describe('an error nothing handled', () => {
  // The fixture dies by design, so the directory it watches is made and removed here.
  const watched = mkdtempSync(join(tmpdir(), 'airlock-fatal-'));
  after(() => rmSync(watched, { recursive: true, force: true }));
  for (const [kind, message] of [
    ['exception', 'boom'],
    ['reject', 'rejected'],
  ] as const) {
    it(`(${kind}) is reported once as AIRLOCK_ERR_INTERNAL, ends the children, and exits 2 with a watcher open`, () => {
      const result = spawnSync(process.execPath, ['--import', 'tsx', FIXTURE, kind, watched], { encoding: 'utf8', timeout: 30_000 });
      assert.equal(result.status, 2, result.stderr);
      assert.match(result.stderr, new RegExp(`^airlock: airlock stopped on an unexpected error: ${message}$`, 'm'));
      assert.match(result.stderr, /AIRLOCK_ERR_INTERNAL: This is a bug in airlock/);
      assert.match(result.stderr, /^children ended$/m);
      assert.doesNotMatch(result.stderr, /double free/);
    });
  }
});
