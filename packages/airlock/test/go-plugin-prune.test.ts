import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { PluginBuildRecord } from '../src/plugin-support/plugin-builds.ts';

const dir = mkdtempSync(join(tmpdir(), 'airlock-prune-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('Go plugin builds airlock keeps', () => {
  it('prunes only the builds it wrote itself: a stray greet.94.so never makes it delete its own new build', () => {
    writeFileSync(join(dir, 'greet.94.so'), 'not ours');
    writeFileSync(join(dir, 'greet.notes.txt'), 'not ours either');
    const record = new PluginBuildRecord(2);
    for (const n of [1, 2, 3]) {
      writeFileSync(join(dir, `greet.${n}.so`), 'ours');
      writeFileSync(join(dir, `greet.${n}.overlay.json`), '{}');
      record.wrote('greet', n);
      record.prune(dir, 'greet');
    }
    assert.deepEqual(readdirSync(dir).sort(), ['greet.2.overlay.json', 'greet.2.so', 'greet.3.overlay.json', 'greet.3.so', 'greet.94.so', 'greet.notes.txt']);
  });

  it('takes a failed attempt away with the successful builds older than the kept ones', () => {
    const out = mkdtempSync(join(dir, 'b-'));
    const record = new PluginBuildRecord(1);
    writeFileSync(join(out, 'x.1.overlay.json'), '{}');
    record.wrote('x', 1);
    writeFileSync(join(out, 'x.2.so'), 'ours');
    writeFileSync(join(out, 'x.2.overlay.json'), '{}');
    record.wrote('x', 2);
    record.prune(out, 'x');
    assert.deepEqual(readdirSync(out).sort(), ['x.2.overlay.json', 'x.2.so']);
  });
});
