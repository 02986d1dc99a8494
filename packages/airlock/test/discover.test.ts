import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { detectServices } from '../src/config/discover.ts';

const root = mkdtempSync(join(tmpdir(), 'airlock-discover-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
function project(files: Record<string, string>): string {
  const dir = join(root, String(n++));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}
const MAIN = 'package main\n\nfunc main() {}\n';

describe('the services a project offers without a config (Go main packages as `go list ./...` finds them)', () => {
  it('finds a main package directly in cmd/, named after the module', () => {
    const dir = project({ 'go.mod': 'module github.com/acme/shop\n\ngo 1.21\n', 'cmd/main.go': MAIN, 'internal/x/x.go': 'package x\n' });
    assert.deepEqual(detectServices(dir), { shop: { go: { main: './cmd' } } });
  });

  it('finds main packages anywhere in the module, and skips what go skips (testdata, vendor, _ and . directories, nested modules)', () => {
    const dir = project({
      'go.mod': 'module example.com/m\n',
      'cmd/api/main.go': MAIN,
      'tools/gen/main.go': MAIN,
      'testdata/t/main.go': MAIN,
      'vendor/v/main.go': MAIN,
      '_old/main.go': MAIN,
      '.hidden/main.go': MAIN,
      'nested/go.mod': 'module example.com/nested\n',
      'nested/main.go': MAIN,
      'lib/lib.go': 'package lib\n',
      'lib/lib_test.go': 'package main\n',
    });
    assert.deepEqual(detectServices(dir), { api: { go: { main: './cmd/api' } }, gen: { go: { main: './tools/gen' } } });
  });

  it('names two packages of the same name apart', () => {
    const dir = project({ 'go.mod': 'module example.com/m\n', 'a/server/main.go': MAIN, 'b/server/main.go': MAIN });
    assert.deepEqual(Object.keys(detectServices(dir)).sort(), ['a-server', 'b-server']);
  });
});
