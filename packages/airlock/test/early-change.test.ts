import assert from 'node:assert/strict';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ChangeDetector, type DetectTiming } from '../src/detect/changes.ts';
import { EventBus, type AirlockEvent } from '../src/events.ts';
import { closeAllWatchers } from '../src/watch/watcher.ts';
import { FakeClock } from './support/fake-clock.ts';

/**
 * An isolated save is handed on at the debounce, provisionally, and confirmed at the
 * burst rules' quiet period; a content change before then cancels it and goes on with
 * it. A real watcher on a real directory; the detector's timers on a fake clock, so the
 * test decides when each quiet period ends (no race with the machine's speed).
 */
const dir = mkdtempSync(join(tmpdir(), 'airlock-early-'));
after(async () => {
  await closeAllWatchers();
  rmSync(dir, { recursive: true, force: true });
});

interface Handed {
  readonly paths: string[];
  readonly firstAt: number;
  readonly timing: DetectTiming;
}

/** Polls (real time) until `condition` holds: the watcher's events arrive when the kernel says. */
async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

async function detector(name: string) {
  const root = join(dir, name);
  const { mkdirSync } = await import('node:fs');
  mkdirSync(root);
  writeFileSync(join(root, 'a.txt'), 'a0');
  writeFileSync(join(root, 'b.txt'), 'b0');
  const clock = new FakeClock();
  const bus = new EventBus();
  const events: AirlockEvent[] = [];
  bus.subscribe((event) => events.push(event));
  const handed: Handed[] = [];
  const changes = new ChangeDetector(
    { services: ['svc'], watch: { root, include: ['**/*.txt'], exclude: [], debounceMs: 50, gitignore: false }, restartOnly: {} },
    bus,
    { clock },
    (_service, { paths, firstAt, timing }) => handed.push({ paths: [...paths], firstAt, timing }),
  );
  await changes.start();
  // The start-up hashes, so the first save is compared with what was there.
  await until(() => events.some((e) => e.type === 'watch.started'), 'the watcher');
  await new Promise((resolve) => setTimeout(resolve, 50));
  after(() => changes.stop());
  /** Waits until the detector has a quiet period (or a confirmation) pending: its timers on the fake clock. */
  const timers = (n: number) => until(() => clock.pending >= n, `${n} timers`);
  /** Moves the fake clock 10 ms at a time, letting the detector's file system work finish in between, until `condition`. */
  const drive = async (condition: () => boolean, what: string) => {
    for (let step = 0; step < 100 && !condition(); step++) {
      clock.advance(10);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    assert.ok(condition(), what);
  };
  /** Saves a.txt alone and lets its debounce pass: the early (provisional) hand-on. */
  const saveAlone = async () => {
    writeFileSync(join(root, 'a.txt'), 'a1');
    await timers(1);
    clock.advance(50);
    await until(() => handed.length === 1, 'the early hand-on');
    const early = (handed[0] as Handed).timing.provisional;
    assert.ok(early, 'handed on early');
    return early;
  };
  return { root, clock, events, handed, timers, drive, saveAlone };
}

describe('an isolated save goes early, a burst still builds once (real watcher, fake clock)', () => {
  it('hands an isolated save on at the debounce, provisionally, and confirms it at the quiet period', async () => {
    const { root, clock, handed, timers } = await detector('alone');
    writeFileSync(join(root, 'a.txt'), 'a1');
    await timers(1);
    clock.advance(50);
    await until(() => handed.length === 1, 'the early hand-on');
    const [first] = handed as [Handed];
    assert.deepEqual(first.paths, ['a.txt']);
    assert.equal(first.timing.settleMs, 50, 'handed on at the debounce, not the 100 ms quiet period');
    const provisional = first.timing.provisional;
    assert.ok(provisional, 'provisional');
    clock.advance(49);
    assert.equal(provisional.done, false, 'not before the quiet period');
    clock.advance(1);
    assert.equal(await provisional.confirmed, true);
    assert.equal(provisional.signal.aborted, false);
  });

  it('cancels the early change when another content change comes before the quiet period, and hands on both as one', async () => {
    const { root, handed, timers, drive, saveAlone } = await detector('burst');
    const early = await saveAlone();
    writeFileSync(join(root, 'b.txt'), 'b1');
    await timers(2); // the confirmation and b's quiet period
    // b came 50 ms after a: a burst, which wants 150 ms of quiet; the confirmation finds b waiting and looks again.
    await drive(() => handed.length === 2, 'the second hand-on');
    assert.equal(await early.confirmed, false, 'cancelled');
    assert.equal(early.signal.aborted, true, 'its build is killed');
    const second = handed[1] as Handed;
    assert.deepEqual(second.paths.sort(), ['a.txt', 'b.txt'], 'a.txt goes on with b.txt');
    assert.equal(second.firstAt, (handed[0] as Handed).firstAt, 'one change since the first event');
    assert.equal(second.timing.provisional, undefined, 'a burst is not handed on early');
  });

  it('keeps the early change when what comes before the quiet period changes nothing (a touch)', async () => {
    const { root, events, handed, timers, drive, saveAlone } = await detector('touch');
    const early = await saveAlone();
    writeFileSync(join(root, 'a.txt'), 'a1');
    await timers(2);
    await drive(() => events.some((e) => e.type === 'change.unchanged'), 'the unchanged rewrite');
    await drive(() => early.done, 'the confirmation');
    assert.equal(await early.confirmed, true);
    assert.equal(handed.length, 1);
  });

  /**
   * Editors that save "safely" write a temp file and rename it over the target; a shell
   * redirect truncates, then writes. Each is one file's new content: handed on early, like
   * a single write. The pause between the two steps makes the watcher report them in two
   * batches, as it does on a busy machine.
   */
  for (const [style, save] of [
    ['a temp file renamed over it', (root: string) => writeFileSync(join(root, '.a.txt.tmp'), 'a-renamed')],
    ['truncated, then written', (root: string) => writeFileSync(join(root, 'a.txt'), '')],
  ] as const) {
    it(`hands a save on early when the file was ${style}`, async () => {
      const { root, clock, handed, events } = await detector(style.replaceAll(' ', '-'));
      save(root);
      // The watcher reports the first step at once; let it arrive before the second, which
      // reaches the detector 40 ms later (the watcher holds the rest of a save back).
      await new Promise((resolve) => setTimeout(resolve, 120));
      clock.advance(40);
      if (style.startsWith('a temp')) renameSync(join(root, '.a.txt.tmp'), join(root, 'a.txt'));
      else writeFileSync(join(root, 'a.txt'), 'a-written');
      // Both steps' events in before the fake clock moves: to the detector they came at once.
      await new Promise((resolve) => setTimeout(resolve, 250));
      assert.equal(events.filter((e) => e.type === 'change.detected').length, 0);
      for (let step = 0; step < 100 && handed.length === 0; step++) {
        clock.advance(step === 0 ? 10 : 1);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      const [first] = handed as [Handed];
      assert.ok(first, 'handed on');
      assert.deepEqual(first.paths, ['a.txt']);
      assert.equal(first.timing.settleMs, 50, 'at the debounce from the first event: the same file again does not start it over');
      assert.ok(first.timing.provisional, `handed on early, not after the burst rules' 150 ms (settle ${first.timing.settleMs} ms)`);
    });
  }
});
