import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BURST_QUIET_MS, BurstRules, MAX_SETTLE_MS, quietPeriod } from '../src/watch/burst.ts';
import { FakeClock } from './support/fake-clock.ts';

const still = { newestWriteAgoMs: Infinity, writtenSinceLastEvent: false };

describe('burst rules (fake clock)', () => {
  it('waits at least 100 ms after a first event, and 0 stays 0', () => {
    assert.equal(quietPeriod(50), 100);
    assert.equal(quietPeriod(300), 300);
    assert.equal(quietPeriod(0), 0);
  });

  it('hands an isolated save on once the debounce passed without input or writes', () => {
    const clock = new FakeClock();
    const rules = new BurstRules(50, clock);
    rules.input(['a']);
    const firstAt = clock.now();
    clock.advance(30);
    assert.equal(rules.judge(firstAt, still), 'wait', 'input 30 ms ago');
    clock.advance(70);
    assert.equal(rules.judge(firstAt, still), 'settled');
    assert.equal(rules.inBurst, false);
  });

  it('lets an isolated save go early (at the debounce) but not a burst, nor with debounce 0 or ≥ 100 ms', () => {
    const clock = new FakeClock();
    const rules = new BurstRules(50, clock);
    rules.input(['a']);
    const firstAt = clock.now();
    clock.advance(50);
    assert.equal(rules.judge(firstAt, still), 'settled', 'quiet for the debounce');
    assert.equal(rules.early(firstAt), true, 'before the 100 ms quiet period: early');
    clock.advance(50);
    assert.equal(rules.early(firstAt), false, 'at the quiet period it is settled for good');
    rules.markBurst();
    assert.equal(rules.early(clock.now()), false, 'a burst waits its quiet period');
    assert.equal(new BurstRules(0, clock).early(clock.now()), false, 'debounce 0 hands on at once anyway');
    assert.equal(new BurstRules(150, clock).early(clock.now()), false, 'a debounce of 100 ms or more is the quiet period');
  });

  it('takes a file written within the quiet period, with no new event, for a burst the watcher holds back', () => {
    const clock = new FakeClock();
    const rules = new BurstRules(50, clock);
    rules.input(['a']);
    clock.advance(100);
    assert.equal(rules.judge(0, { newestWriteAgoMs: 20, writtenSinceLastEvent: false }), 'wait', 'a file written 20 ms ago');
    assert.equal(rules.inBurst, true);
    assert.equal(rules.judge(0, still), 'wait', '150 ms of quiet needed now');
    clock.advance(50);
    assert.equal(rules.judge(0, still), 'settled');
  });

  it('makes batches less than 200 ms apart a burst, which needs 150 ms of quiet', () => {
    const clock = new FakeClock();
    const rules = new BurstRules(50, clock);
    rules.input(['a']);
    clock.advance(120);
    rules.input(['b']);
    assert.equal(rules.inBurst, true);
    assert.equal(rules.quietMs, BURST_QUIET_MS);
    clock.advance(100);
    assert.equal(rules.judge(0, still), 'wait', 'only 100 ms of quiet inside a burst');
    clock.advance(60);
    assert.equal(rules.judge(0, still), 'settled');
    assert.equal(rules.inBurst, false, 'a settled burst is over');
  });

  it('takes writes newer than the last event (the watcher holding a burst back) for a burst', () => {
    const clock = new FakeClock();
    const rules = new BurstRules(50, clock);
    rules.input(['a']);
    clock.advance(120);
    assert.equal(rules.judge(0, { newestWriteAgoMs: Infinity, writtenSinceLastEvent: true }), 'wait');
    assert.equal(rules.inBurst, true);
  });

  it('marks a burst when a directory is created or many files come in one batch', () => {
    const rules = new BurstRules(50, new FakeClock());
    rules.markBurst();
    assert.equal(rules.quietMs, BURST_QUIET_MS);
  });

  it('hands a change on after MAX_SETTLE_MS even while the tree keeps being written, and the rest is still a burst', () => {
    const clock = new FakeClock();
    const rules = new BurstRules(50, clock);
    rules.input(['a']);
    const busy = { newestWriteAgoMs: 5, writtenSinceLastEvent: false };
    clock.advance(MAX_SETTLE_MS - 1);
    assert.equal(rules.judge(0, busy), 'wait');
    clock.advance(1);
    assert.equal(rules.judge(0, busy), 'forced');
    assert.equal(rules.inBurst, true);
  });

  it('with debounce 0 ignores writes newer than the last event (no wait was asked for)', () => {
    const clock = new FakeClock();
    const rules = new BurstRules(0, clock);
    rules.input(['a']);
    assert.equal(rules.judge(0, { newestWriteAgoMs: Infinity, writtenSinceLastEvent: true }), 'settled');
  });

  it('waits while new directories are still being listed (their files are not in the change set yet)', () => {
    const clock = new FakeClock();
    const rules = new BurstRules(50, clock);
    rules.input(['a']);
    clock.advance(1_000);
    assert.equal(rules.judge(0, { ...still, listingNewDirectories: true }), 'wait');
    assert.equal(rules.judge(0, still), 'settled');
  });

  it('takes the events of one file for one save however the editor wrote it (truncate then write, temp file and rename)', () => {
    const clock = new FakeClock();
    const rules = new BurstRules(50, clock);
    rules.input(['/app/v.go']);
    clock.advance(40);
    rules.input(['/app/v.go']);
    assert.equal(rules.inBurst, false, 'the same file again: still one save');
    assert.equal(rules.early(0), true);
    rules.input(['/app/w.go']);
    assert.equal(rules.inBurst, true, 'a second file within 200 ms: a burst');
  });

  it('starts counting a burst anew after a gap', () => {
    const clock = new FakeClock();
    const rules = new BurstRules(50, clock);
    rules.input(['/app/v.go']);
    clock.advance(300);
    rules.input(['/app/w.go']);
    assert.equal(rules.inBurst, false, 'another file, 300 ms later: another save');
  });

  it('does not take a timer that fires a fraction of a millisecond early for input within the quiet period', () => {
    const clock = new FakeClock();
    const rules = new BurstRules(50, clock);
    rules.input(['a']);
    clock.advance(49.7);
    assert.equal(rules.judge(0, still), 'settled', 'setTimeout(50) may run 49.7 ms later by performance.now()');
  });

  it('takes a file in hand written after its own event for the same save finishing: waits for its write to be quiet, no burst', () => {
    const clock = new FakeClock();
    const rules = new BurstRules(50, clock);
    rules.input(['/app/v.go']);
    clock.advance(50);
    // A shell redirect: the truncate's event came first, the write 1 ms after it.
    const look = { newestWriteAgoMs: 49, newestDirectoryWriteAgoMs: Infinity, writtenSinceLastEvent: false };
    assert.equal(rules.judge(0, look), 'wait');
    assert.equal(rules.inBurst, false, 'one file finishing its save is no burst');
    assert.equal(rules.remainingMs(look), 1, 'looks again when its write is 50 ms old, not a whole debounce later');
    clock.advance(1);
    assert.equal(rules.judge(0, { ...look, newestWriteAgoMs: 50 }), 'settled');
    assert.equal(rules.early(0), true);
  });

  it('still takes a directory written after the last event for a burst held back', () => {
    const clock = new FakeClock();
    const rules = new BurstRules(50, clock);
    rules.input(['/app/v.go']);
    clock.advance(60);
    const look = { newestWriteAgoMs: 10, newestDirectoryWriteAgoMs: 10, writtenSinceLastEvent: false };
    assert.equal(rules.judge(0, look), 'wait');
    assert.equal(rules.inBurst, true);
    assert.equal(rules.remainingMs(look), 150, 'a whole burst quiet period: the watcher holds writes back');
  });

  it('reports a batch that repeats the files in hand, and leaves the quiet period where it was', () => {
    const clock = new FakeClock();
    const rules = new BurstRules(50, clock);
    assert.equal(rules.input(['/app/v.go']), false);
    clock.advance(45);
    assert.equal(rules.input(['/app/v.go']), true, 'the same file again: the watcher delivering the rest of one save');
    clock.advance(5);
    assert.equal(rules.judge(0, still), 'settled', "quiet counts from the first event; the file's own mtime guards a write still going on");
    assert.equal(rules.input([]), false, 'a batch without inputs notes nothing');
  });

  it("takes a directory written as the event came for that event's own write (a save renamed into place)", () => {
    const clock = new FakeClock();
    const rules = new BurstRules(50, clock);
    rules.input(['/app/v.go']);
    clock.advance(50);
    // Date.now() counts whole milliseconds: the rename's directory write looks 49.9 ms old.
    assert.equal(rules.judge(0, { newestWriteAgoMs: 49.9, newestDirectoryWriteAgoMs: 49.9, writtenSinceLastEvent: false }), 'wait');
    assert.equal(rules.inBurst, false);
  });
});
