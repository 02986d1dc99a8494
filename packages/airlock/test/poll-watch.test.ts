import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { watcherFor } from '../src/watch/factory.ts';
import type { WatchEvent } from '../src/watch/watcher.ts';

/**
 * The polling watcher (watch.poll), for file systems where native events do not arrive
 * (a bind mount from another OS, NFS, 9p): what changed between two looks, in the same
 * events the native watcher gives, so the burst rules and hashing downstream are the same.
 */
const root = mkdtempSync(join(tmpdir(), 'airlock-poll-'));
after(() => rmSync(root, { recursive: true, force: true }));

async function until(test: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!test()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('watching by polling', () => {
  it('reports files created, changed (content or mtime) and removed, in new directories too, and skips .git and node_modules', async () => {
    writeFileSync(join(root, 'a.go'), 'a');
    const events: WatchEvent[] = [];
    const watch = watcherFor({ pollMs: 50 });
    const handle = await watch(root, (batch) => events.push(...batch), (error) => assert.fail(error.message));
    try {
      writeFileSync(join(root, 'b.go'), 'b');
      mkdirSync(join(root, 'pkg', 'deep'), { recursive: true });
      writeFileSync(join(root, 'pkg', 'deep', 'c.go'), 'c');
      mkdirSync(join(root, 'node_modules', 'x'), { recursive: true });
      writeFileSync(join(root, 'node_modules', 'x', 'i.js'), 'no');
      await until(() => events.some((e) => e.path === join(root, 'pkg', 'deep', 'c.go')), 'the new file in a new directory');
      assert.ok(events.some((e) => e.type === 'create' && e.path === join(root, 'b.go')));
      assert.ok(!events.some((e) => e.path.includes('node_modules')), 'node_modules is not walked');
      events.length = 0;
      writeFileSync(join(root, 'a.go'), 'a changed, longer');
      await until(() => events.some((e) => e.type === 'update' && e.path === join(root, 'a.go')), 'the change');
      events.length = 0;
      // Same size, an mtime set back: still a change (content is hashed downstream).
      writeFileSync(join(root, 'b.go'), 'B');
      utimesSync(join(root, 'b.go'), new Date(1_000), new Date(1_000));
      await until(() => events.some((e) => e.type === 'update' && e.path === join(root, 'b.go')), 'the same-size change');
      rmSync(join(root, 'b.go'));
      await until(() => events.some((e) => e.type === 'delete' && e.path === join(root, 'b.go')), 'the removal');
    } finally {
      await handle.close();
    }
  });

  it('is the native watcher when no poll is asked for', () => {
    assert.equal(watcherFor({}).name, 'watchTree');
  });
});

describe('saved files (env files, app config) by polling', () => {
  it('sees a save with watch.poll, also one that replaced the file, and not a write of the same content', async () => {
    const { SavedFileWatcher } = await import('../src/detect/saved-files.ts');
    const dir = join(root, 'saved');
    mkdirSync(dir);
    const env = join(dir, '.env');
    writeFileSync(env, 'A=1\n');
    const changed: string[] = [];
    const watcher = new SavedFileWatcher([env], (file) => changed.push(file), { pollMs: 50 });
    await watcher.start();
    after(() => watcher.stop());
    writeFileSync(env, 'A=2\n');
    await until(() => changed.length === 1, 'the first save');
    writeFileSync(join(dir, '.env.tmp'), 'A=3\n');
    const { renameSync } = await import('node:fs');
    renameSync(join(dir, '.env.tmp'), env);
    await until(() => changed.length === 2, 'a save by rename');
    writeFileSync(env, 'A=3\n');
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.deepEqual(changed, ['.env', '.env'], 'the same content again is no change');
  });
});
