import assert from 'node:assert/strict';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { config, onConfigChange, validateConfig } from '../src/config/index.ts';

describe('config snapshots', () => {
  const dir = mkdtempSync(join(tmpdir(), 'airlock-runtime-config-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'app.json');
  const env = { AIRLOCK_CONFIG_FILE: file, AIRLOCK_CONFIG_SIGNAL: 'SIGUSR2' };
  const write = (value: object) => {
    writeFileSync(`${file}.tmp`, JSON.stringify(value));
    renameSync(`${file}.tmp`, file);
  };

  it('swaps the whole snapshot at once on the signal: a reader never sees a mix of keys', async () => {
    write({ a: 0, b: 0, nested: { n: 0 } });
    assert.deepEqual(config(env), { a: 0, b: 0, nested: { n: 0 } });
    assert.ok(Object.isFrozen(config(env)) && Object.isFrozen(config(env).nested));
    const changes: number[] = [];
    onConfigChange((next, previous) => changes.push(Number(previous.a), Number(next.a)), env);
    let mixed = 0;
    const reader = setInterval(() => {
      const snapshot = config(env);
      if (snapshot.a !== snapshot.b) mixed++;
    }, 0);
    for (let i = 1; i <= 20; i++) {
      write({ a: i, b: i, nested: { n: i } });
      const changed = new Promise<void>((resolve) => {
        const off = onConfigChange(() => {
          off();
          resolve();
        }, env);
      });
      process.kill(process.pid, 'SIGUSR2');
      await changed;
    }
    clearInterval(reader);
    assert.equal(mixed, 0);
    assert.equal(config(env).a, 20);
    assert.deepEqual(changes.slice(0, 4), [0, 1, 1, 2]);
  });

  it('keeps the old snapshot when a validation hook refuses the new one', async () => {
    let refused: (reason: string) => void = () => undefined;
    const refusal = new Promise<string>((resolve) => (refused = resolve));
    const off = validateConfig((candidate) => {
      const verdict = typeof candidate.a === 'number' ? true : 'a must be a number';
      if (verdict !== true) refused(verdict);
      return verdict;
    });
    write({ a: 'nope', b: 'nope' });
    process.kill(process.pid, 'SIGUSR2');
    // The hook runs inside the reload: once it refused, the reload has decided. The deadline
    // also keeps the event loop alive until the signal arrives.
    let deadline: NodeJS.Timeout | undefined;
    const late = new Promise<string>((_, reject) => (deadline = setTimeout(() => reject(new Error('the hook was never asked')), 5_000)));
    assert.equal(await Promise.race([refusal, late]), 'a must be a number');
    clearTimeout(deadline);
    assert.equal(config(env).a, 20);
    off();
  });
});
