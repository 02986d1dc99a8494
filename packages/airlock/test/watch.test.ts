import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ContentTracker } from '../src/watch/content.ts';
import { Debouncer, type Clock } from '../src/watch/debounce.ts';
import { createFilter, isEditorTemp } from '../src/watch/filter.ts';

/** A clock that only moves when the test says so. */
class FakeClock implements Clock {
  now = 0;
  #timers = new Map<number, { at: number; fn: () => void }>();
  #next = 1;
  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.#next++;
    this.#timers.set(id, { at: this.now + ms, fn });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.#timers.delete(handle as number);
  }
  advance(ms: number): void {
    const until = this.now + ms;
    for (;;) {
      const due = [...this.#timers.entries()].filter(([, t]) => t.at <= until).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      this.#timers.delete(due[0]);
      this.now = due[1].at;
      due[1].fn();
    }
    this.now = until;
  }
}

describe('debounce', () => {
  it('hands over what is waiting, with when it started, and then flushes nothing', () => {
    const clock = new FakeClock();
    const flushes: string[][] = [];
    const debouncer = new Debouncer<string>(50, (items) => flushes.push([...items]), clock, () => clock.now);
    clock.advance(5);
    debouncer.add(['a.go']);
    clock.advance(10);
    debouncer.add(['b.go']);
    assert.deepEqual(debouncer.take(), { items: new Set(['a.go', 'b.go']), firstAt: 5 });
    clock.advance(100);
    assert.deepEqual(flushes, []);
    assert.equal(debouncer.take(), undefined);
  });

  it('coalesces a burst into one flush after the quiet period', () => {
    const clock = new FakeClock();
    const flushes: string[][] = [];
    const debouncer = new Debouncer<string>(50, (items) => flushes.push([...items].sort()), clock, () => clock.now);
    for (let i = 0; i < 100; i++) {
      debouncer.add([`f${i % 3}.go`]);
      clock.advance(10);
    }
    assert.equal(flushes.length, 0, 'no flush while writes keep coming');
    clock.advance(39); // 49 ms after the last write
    assert.equal(flushes.length, 0);
    clock.advance(1);
    assert.deepEqual(flushes, [['f0.go', 'f1.go', 'f2.go']]);
  });

  it('honours a delay of 0 but still joins what arrives together', () => {
    const clock = new FakeClock();
    const flushes: string[][] = [];
    const debouncer = new Debouncer<string>(0, (items) => flushes.push([...items]), clock, () => clock.now);
    debouncer.add(['a']);
    debouncer.add(['b']);
    clock.advance(0);
    assert.deepEqual(flushes, [['a', 'b']]);
  });

  it('reports when the burst started, and forgets everything on cancel', () => {
    const clock = new FakeClock();
    const starts: number[] = [];
    const debouncer = new Debouncer<string>(20, (_items, first) => starts.push(first), clock, () => clock.now);
    clock.advance(5);
    debouncer.add(['a']);
    clock.advance(10);
    debouncer.add(['b']);
    clock.advance(20);
    assert.deepEqual(starts, [5]);
    debouncer.add(['c']);
    debouncer.cancel();
    clock.advance(100);
    assert.deepEqual(starts, [5]);
  });
});

describe('filters', () => {
  const root = mkdtempSync(join(tmpdir(), 'airlock-filter-'));
  after(() => rmSync(root, { recursive: true, force: true }));
  writeFileSync(join(root, '.gitignore'), 'generated/\n*.log\n');
  mkdirSync(join(root, 'pkg', 'deep'), { recursive: true });
  writeFileSync(join(root, 'pkg', '.gitignore'), 'local.go\n');
  const filter = createFilter({ root, include: ['**/*.go', 'go.mod'], exclude: ['**/*_test.go', 'tmp/**'], gitignore: true });
  const matches = (rel: string) => filter.matches(join(root, rel));

  it('applies include and exclude globs', () => {
    assert.ok(matches('main.go'));
    assert.ok(matches('pkg/deep/x.go'));
    assert.ok(matches('go.mod'));
    assert.ok(!matches('README.md'));
    assert.ok(!matches('pkg/x_test.go'));
    assert.ok(!matches('tmp/x.go'));
  });

  it('honours .gitignore files at the root and below', () => {
    assert.ok(!matches('generated/api.go'));
    assert.ok(!matches('pkg/local.go'));
    assert.ok(!matches('pkg/deep/local.go'));
    assert.ok(matches('local.go'), 'a nested .gitignore does not reach up');
  });

  it('ignores editor temp files, VCS, dependencies and its own state', () => {
    for (const path of ['.main.go.swp', 'main.go~', '.#main.go', '#main.go#', '4913', 'main.go___jb_tmp___']) {
      assert.ok(isEditorTemp(path), path);
    }
    assert.ok(!matches('.git/x.go'));
    assert.ok(!matches('node_modules/m/x.go'));
    assert.ok(!matches('.airlock/bin/x.go'));
    assert.ok(filter.skipsDir(join(root, 'node_modules')));
    assert.ok(filter.skipsDir(join(root, 'generated')));
    assert.ok(!filter.skipsDir(join(root, 'pkg')));
  });
});

describe('watcher errors', () => {
  it('turns the inotify limit into advice naming the sysctl', async () => {
    const { watchError } = await import('../src/watch/watcher.ts');
    // The message @parcel/watcher throws when inotify_add_watch hits max_user_watches.
    const limit = watchError('/src', new Error("inotify_add_watch on '/src/pkg' failed: No space left on device"));
    assert.equal(limit.code, 'WATCH_LIMIT');
    assert.match(limit.message, /fs\.inotify\.max_user_watches/);
    assert.match(limit.howTo, /sysctl fs\.inotify\.max_user_watches=524288/);
    const instances = watchError('/src', new Error('inotify_init1 failed: Too many open files'));
    assert.match(instances.message, /fs\.inotify\.max_user_instances/);
    assert.equal(watchError('/src', new Error('boom')).code, 'WATCH_FAILED');
  });
});

/** This process's children that are zombies (state Z in /proc), by command name. */
function zombieChildren(): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (state === 'Z' && Number(ppid) === process.pid) found.push(stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

describe('the watcher leaves no process behind', () => {
  it('starts no helper that stays a zombie for as long as airlock runs (@parcel/watcher looking for watchman)', async () => {
    const { watchTree } = await import('../src/watch/watcher.ts');
    const root = mkdtempSync(join(tmpdir(), 'airlock-zombie-'));
    const handle = await watchTree(root, () => undefined, () => undefined);
    try {
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.deepEqual(zombieChildren(), []);
    } finally {
      await handle.close();
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('memory growth', () => {
  it('measures the rate over at least 50 ms, however often it is sampled', async () => {
    const { MemoryGrowth } = await import('../src/health/memory.ts');
    const growth = new MemoryGrowth(10);
    let verdict: string | undefined;
    // 1 MB every 2 ms = 500 MB/s, sampled every 2 ms.
    for (let t = 0; t <= 100 && verdict === undefined; t += 2) verdict = growth.sample(t * 0.5e6, t);
    assert.match(verdict ?? '', /memory grew 500\.0 MB\/s \(limit 10 MB\/s\)/);
    const steady = new MemoryGrowth(10);
    for (let t = 0; t <= 1000; t += 2) assert.equal(steady.sample(50e6 + (t % 7) * 1e3, t), undefined);
  });
});

describe('content hashes at start-up', () => {
  const dir = mkdtempSync(join(tmpdir(), 'airlock-content-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('records files as they were when watching began, not files written since (their change event must not read as unchanged)', async () => {
    const filter = createFilter({ root: dir, include: ['**/*.txt'], exclude: [], gitignore: false });
    writeFileSync(join(dir, 'old.txt'), 'before');
    const old = new Date(Date.now() - 60_000);
    utimesSync(join(dir, 'old.txt'), old, old);
    const watchingSince = Date.now();
    writeFileSync(join(dir, 'new.txt'), 'written after the watch started, before priming read it');
    const tracker = new ContentTracker();
    await tracker.prime(dir, filter, 20_000, watchingSince);
    assert.deepEqual(await tracker.changed([join(dir, 'old.txt')]), [], 'a file from before is known');
    assert.deepEqual(await tracker.changed([join(dir, 'new.txt')]), [join(dir, 'new.txt')]);
  });
});
