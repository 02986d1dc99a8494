import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { AirlockError, catalog, fullCode } from '../src/errors.ts';

const doc = readFileSync(join(fileURLToPath(import.meta.url), '..', '..', '..', '..', 'docs', 'errors.md'), 'utf8');

/** code → [exit, how to solve] from the table in docs/errors.md. */
function documented(): Map<string, [string, string]> {
  const rows = new Map<string, [string, string]>();
  for (const line of doc.split('\n')) {
    const cells = line.split(/(?<!\\)\|/).map((cell) => cell.trim());
    const code = /^`(AIRLOCK_ERR_\w+)`$/.exec(cells[1] ?? '')?.[1];
    if (code) rows.set(code, [cells[2] ?? '', (cells[4] ?? '').replaceAll('\\|', '|')]);
  }
  return rows;
}

describe('the error catalog', () => {
  it('matches docs/errors.md row for row: code, exit code, how to solve', () => {
    const rows = documented();
    const codes = Object.keys(catalog).map((code) => fullCode(code as keyof typeof catalog));
    assert.deepEqual([...rows.keys()].sort(), codes.sort());
    for (const [code, entry] of Object.entries(catalog)) {
      assert.deepEqual(rows.get(`AIRLOCK_ERR_${code}`), [String(entry.exit), entry.howTo], code);
    }
  });

  it('gives every error its how-to and exit code', () => {
    const error = new AirlockError('CONFIG_INVALID', 'x');
    assert.equal(error.howTo, catalog.CONFIG_INVALID.howTo);
    assert.equal(error.exitCode, 1);
  });
});

describe('the event reference', () => {
  it('documents every event type the core publishes in docs/events.md', () => {
    const root = join(fileURLToPath(import.meta.url), '..', '..', '..', '..');
    const source = readFileSync(join(root, 'packages', 'airlock', 'src', 'events.ts'), 'utf8');
    const types = [...source.matchAll(/readonly type: '([\w.-]+)'/g)].map((match) => match[1] as string);
    const events = readFileSync(join(root, 'docs', 'events.md'), 'utf8');
    const rows = new Set([...events.matchAll(/^\| `([\w.-]+)` \|/gm)].map((match) => match[1]));
    assert.ok(types.length > 20);
    assert.deepEqual(types.filter((type) => !rows.has(type)), []);
  });
});
