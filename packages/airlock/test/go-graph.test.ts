import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BuildSlots } from '../src/build/slots.ts';
import { GoGraph, importsOf } from '../src/build/go-graph.ts';

describe('importsOf', () => {
  it('reads grouped, single, aliased and blank imports, and nothing after the declarations', () => {
    const source = [
      'package main',
      '',
      'import "fmt"',
      'import (',
      '\t"net/http"',
      '\tst "example.com/shop/internal/store"',
      '\t_ "embed"',
      ')',
      '',
      'func main() { fmt.Println("import \\"not/this\\"") }',
    ].join('\n');
    assert.deepEqual(importsOf(source), ['embed', 'example.com/shop/internal/store', 'fmt', 'net/http']);
  });
});

describe('GoGraph on a real module', () => {
  const dir = mkdtempSync(join(tmpdir(), 'airlock-graph-'));
  const file = (path: string, text: string) => {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), text);
  };
  let graph: GoGraph;

  before(async () => {
    file('go.mod', 'module example.com/m\n\ngo 1.19\n');
    file('lib/lib.go', 'package lib\n\nconst X = 1\n');
    file('lib/lib_test.go', 'package lib\n');
    file('other/other.go', 'package other\n\nimport _ "embed"\n\n//go:embed page.txt\nvar Page string\n');
    file('other/page.txt', 'hi\n');
    file('cmd/a/main.go', 'package main\n\nimport "example.com/m/lib"\n\nfunc main() { _ = lib.X }\n');
    file('cmd/b/main.go', 'package main\n\nimport "example.com/m/other"\n\nfunc main() { _ = other.Page }\n');
    graph = new GoGraph(dir, { a: './cmd/a', b: './cmd/b' });
    await graph.load();
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const services = async (...paths: string[]) => [...(await graph.affected(paths.map((p) => join(dir, p)))).services.keys()].sort();

  it('maps files to the mains that include them', async () => {
    assert.deepEqual(await services('lib/lib.go'), ['a']);
    assert.deepEqual(await services('other/page.txt'), ['b']);
    assert.deepEqual(await services('cmd/b/main.go'), ['b']);
    assert.deepEqual(await services('lib/lib_test.go'), []);
    assert.deepEqual(await services('go.mod'), ['a', 'b']);
    assert.deepEqual(await services('README.md'), []);
  });

  it('lists again when an edit changes imports', async () => {
    file('cmd/b/main.go', 'package main\n\nimport (\n\t"example.com/m/lib"\n\t"example.com/m/other"\n)\n\nfunc main() { _ = other.Page; _ = lib.X }\n');
    const result = await graph.affected([join(dir, 'cmd/b/main.go')]);
    assert.equal(result.refreshed, true);
    assert.deepEqual(await services('lib/lib.go'), ['a', 'b']);
    // A body-only edit does not list again.
    file('lib/lib.go', 'package lib\n\nconst X = 2\n');
    assert.equal((await graph.affected([join(dir, 'lib/lib.go')])).refreshed, false);
  });

  it('knows files embedded after start: by a new //go:embed line, or new in an embedded directory', async () => {
    file('other/assets/a.css', 'a{}\n');
    file('other/other.go', 'package other\n\nimport "embed"\n\n//go:embed page.txt\nvar Page string\n\n//go:embed assets\nvar Assets embed.FS\n');
    assert.equal(graph.isInput(join(dir, 'other/assets/a.css')), false, 'not before the .go edit is seen');
    assert.equal((await graph.affected([join(dir, 'other/other.go')])).refreshed, true, 'an embed line changes the graph');
    assert.equal(graph.isInput(join(dir, 'other/assets/a.css')), true);
    // A file created later in the embedded directory is an input before any listing.
    file('other/assets/sub/b.css', 'b{}\n');
    assert.equal(graph.isInput(join(dir, 'other/assets/sub/b.css')), true);
    assert.equal(graph.isInput(join(dir, 'other/notes.md')), false);
    const result = await graph.affected([join(dir, 'other/assets/sub/b.css')]);
    assert.equal(result.refreshed, true);
    assert.deepEqual([...result.services.keys()], ['b']);
  });
});

describe('BuildSlots', () => {
  it('lets `limit` builds run at once, queues the rest, and drops a waiter that was aborted', async () => {
    const slots = new BuildSlots(2);
    const a = await slots.acquire();
    const b = await slots.acquire();
    const granted: { third?: () => void } = {};
    const waiting = slots.acquire().then((release) => (granted.third = release));
    const controller = new AbortController();
    const aborted = slots.acquire(controller.signal);
    controller.abort();
    assert.equal(await aborted, undefined);
    await new Promise((r) => setImmediate(r));
    assert.equal(granted.third, undefined, 'waits while two run');
    a?.();
    await waiting;
    const third = granted.third as (() => void) | undefined;
    assert.ok(third);
    b?.();
    // The aborted waiter is gone: b's slot is free at once (were it still queued, it would take the slot and leak it).
    const fourth = await Promise.race([slots.acquire(), new Promise<undefined>((resolve) => setImmediate(() => resolve(undefined)))]);
    assert.ok(fourth, 'a free slot');
    fourth();
    third();
  });

  it('resizes: a larger limit starts waiting builds at once, a smaller one holds new builds until enough finished', async () => {
    const slots = new BuildSlots(1);
    const first = await slots.acquire();
    const granted: { second?: () => void; third?: () => void } = {};
    const waiting = slots.acquire().then((release) => (granted.second = release));
    slots.resize(2);
    await waiting;
    assert.ok(granted.second, 'granted by the resize');
    slots.resize(1);
    const held = slots.acquire().then((release) => (granted.third = release));
    first?.();
    await new Promise((r) => setImmediate(r));
    assert.equal(granted.third === undefined, true, 'two were running, the limit is one: the first finishing pays back the difference');
    granted.second();
    await held;
    assert.ok(granted.third);
    granted.third();
    assert.equal(slots.limit, 1);
  });
});
