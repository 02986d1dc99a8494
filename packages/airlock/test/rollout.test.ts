import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { describe, it } from 'node:test';
import type { RolloutPlan } from '../src/config/plan.ts';
import type { RolloutFigures, RolloutWindow } from '../src/events.ts';
import { judge } from '../src/rollout/analysis.ts';
import { bucketOf } from '../src/rollout/bucket.ts';
import { CanaryRollout, type RolloutEvent } from '../src/rollout/canary.ts';
import { LatencyHistogram } from '../src/rollout/latency.ts';
import { BucketSplit, cookieValue } from '../src/rollout/split.ts';
import { FakeClock } from './support/fake-clock.ts';

const analysis = { maxErrorRate: 0.01, maxP99IncreaseMs: 50, minRequests: 100, failureLimit: 0 };
const plan: RolloutPlan = { strategy: 'canary', steps: [1, 10, 100], intervalMs: 30_000, key: { kind: 'header', name: 'x-user-id' }, bucketing: 'airlock', group: 'api', debugHeaders: false, analysis };

function side(generation: number, requests: number, errors = 0, p99Ms = 10): RolloutFigures {
  return { generation, requests, errors, errorRate: requests === 0 ? 0 : errors / requests, p50Ms: requests ? 5 : undefined, p99Ms: requests ? p99Ms : undefined };
}

/** A rollout on a fake clock whose windows are what the test queues (the next one taken at each analysis). */
function harness(options: Partial<RolloutPlan> = {}) {
  const clock = new FakeClock();
  const events: RolloutEvent[] = [];
  const shares: number[] = [];
  const outcome: string[] = [];
  const queued: RolloutWindow[] = [];
  const quiet = { canary: side(5, 0), stable: side(4, 0) };
  const rollout = new CanaryRollout({
    service: 'api',
    plan: { ...plan, ...options },
    clock,
    windows: { peek: () => queued[0] ?? quiet, take: () => queued.shift() ?? quiet },
    canary: 5,
    stable: 4,
    group: 'api',
    hooks: { share: (p) => shares.push(p), promote: () => outcome.push('promoted'), abort: (reason) => outcome.push(`aborted: ${reason}`), emit: (e) => events.push(e) },
  });
  const good = () => queued.push({ canary: side(5, 200), stable: side(4, 2000) });
  return { clock, events, shares, outcome, queued, rollout, good };
}

describe('rollout analysis (judge)', () => {
  it('holds with too few canary requests, whatever their errors', () => {
    assert.equal(judge(side(5, 99, 99), side(4, 1000), analysis, undefined).kind, 'inconclusive');
  });
  it('fails on the error rate and on the p99 increase, and says the figures', () => {
    const errors = judge(side(5, 200, 10), side(4, 2000), analysis, undefined);
    assert.deepEqual(errors, { kind: 'fail', reason: 'error rate 5.00 % > 1.00 % (10 of 200)' });
    const slow = judge(side(5, 200, 0, 210), side(4, 2000, 0, 10), analysis, undefined);
    assert.equal(slow.kind, 'fail');
    assert.match(slow.reason, /p99 210 ms vs stable 10 ms: \+200 ms > 50 ms/);
    assert.equal(judge(side(5, 200, 2, 59), side(4, 2000, 0, 10), analysis, undefined).kind, 'pass');
  });
  it('compares with the last stable baseline when the stable side had too few requests', () => {
    assert.equal(judge(side(5, 200, 0, 200), side(4, 3, 0, 1), analysis, 10).kind, 'fail');
    assert.equal(judge(side(5, 200, 0, 200), side(4, 0), analysis, undefined).kind, 'pass');
  });
});

describe('canary rollout timeline (fake clock)', () => {
  it('goes 1 → 10 → 100 → promoted on schedule when each window passes', () => {
    const { clock, events, shares, outcome, rollout, good } = harness();
    rollout.start();
    assert.deepEqual(shares, [1]);
    good();
    clock.advance(29_999);
    assert.deepEqual(shares, [1], 'nothing before the interval');
    clock.advance(1);
    good();
    clock.advance(30_000);
    assert.deepEqual(shares, [1, 10, 100]);
    good();
    clock.advance(30_000);
    assert.deepEqual(outcome, ['promoted']);
    assert.deepEqual(
      events.map((e) => `${e.type} ${e.share}`),
      ['rollout.step 1', 'rollout.step 10', 'rollout.step 100', 'rollout.promoted 100'],
    );
    assert.equal(clock.pending, 0, 'no timer left after promotion');
    assert.ok(events[1]?.window, 'a step the analysis took carries its window');
  });

  it('holds while a window is inconclusive, and never promotes or aborts then', () => {
    const { clock, events, outcome, rollout } = harness();
    rollout.start();
    clock.advance(30_000 * 5);
    assert.deepEqual(outcome, []);
    assert.equal(rollout.share, 1);
    assert.equal(events.filter((e) => e.type === 'rollout.held').length, 5);
    assert.match(events[1]?.reason ?? '', /0 canary requests in the window, fewer than minRequests 100: holding at 1 %/);
  });

  it('aborts in the window of the breach, sets share 0 first, and says why', () => {
    const { clock, events, shares, outcome, queued, rollout, good } = harness();
    rollout.start();
    good();
    clock.advance(30_000);
    queued.push({ canary: side(5, 300, 15), stable: side(4, 3000) });
    clock.advance(30_000);
    assert.deepEqual(shares, [1, 10, 0]);
    assert.equal(outcome.length, 1);
    assert.match(outcome[0] ?? '', /^aborted: error rate 5\.00 % > 1\.00 % \(15 of 300\); failed window 1, failureLimit 0/);
    const aborted = events.at(-1);
    assert.equal(aborted?.type, 'rollout.aborted');
    assert.equal(aborted?.type === 'rollout.aborted' && aborted.code, 'AIRLOCK_ERR_ROLLOUT_ABORTED');
    assert.equal(aborted?.window?.canary.errors, 15);
    assert.equal(clock.pending, 0);
  });

  it('allows failureLimit failed windows (held), then aborts', () => {
    const { clock, events, outcome, queued, rollout } = harness({ analysis: { ...analysis, failureLimit: 1 } });
    rollout.start();
    const slow = { canary: side(5, 200, 0, 300), stable: side(4, 2000, 0, 10) };
    queued.push(slow, slow);
    clock.advance(30_000);
    assert.equal(events.at(-1)?.type, 'rollout.held');
    assert.match(events.at(-1)?.reason ?? '', /failed window 1 of 1 allowed/);
    clock.advance(30_000);
    assert.match(outcome[0] ?? '', /^aborted: p99 300 ms/);
  });

  it('promotes by hand (next step, then --full), pauses and resumes, aborts by hand', () => {
    const { clock, shares, outcome, rollout } = harness();
    rollout.start();
    rollout.promote(false);
    assert.deepEqual(shares, [1, 10]);
    rollout.pause();
    assert.equal(rollout.state, 'paused');
    assert.equal(clock.pending, 0, 'paused: no analysis');
    clock.advance(100_000);
    rollout.resume();
    assert.equal(rollout.state, 'running');
    assert.equal(clock.pending, 1);
    rollout.promote(true);
    assert.deepEqual(outcome, ['promoted']);
    rollout.abort('too late');
    assert.deepEqual(outcome, ['promoted'], 'over: abort does nothing');

    const second = harness();
    second.rollout.start();
    second.rollout.abort('aborted by hand');
    assert.deepEqual(second.outcome, ['aborted: aborted by hand']);
    assert.equal(second.rollout.status().state, 'aborted');
    assert.equal(second.rollout.status().lastDecision?.reason, 'aborted by hand');
  });

  it('compares the canary with the last stable p99 once the stable side gets no traffic (100 %)', () => {
    const { clock, outcome, queued, rollout } = harness({ steps: [50, 100] });
    rollout.start();
    queued.push({ canary: side(5, 1000, 0, 12), stable: side(4, 1000, 0, 10) });
    clock.advance(30_000);
    queued.push({ canary: side(5, 1000, 0, 400), stable: side(4, 0) });
    clock.advance(30_000);
    assert.match(outcome[0] ?? '', /^aborted: p99 400 ms vs stable 10 ms/);
  });
});

describe('latency histogram', () => {
  it('gives quantiles within 2 % (0.1 ms below 1 ms)', () => {
    const h = new LatencyHistogram();
    for (let i = 1; i <= 1000; i += 1) h.record(i);
    const p99 = h.quantile(0.99) as number;
    assert.ok(Math.abs(p99 - 990) / 990 <= 0.02, String(p99));
    const fast = new LatencyHistogram();
    for (let i = 0; i < 100; i += 1) fast.record(0.35);
    assert.equal(fast.quantile(0.5), 0.4);
    assert.equal(new LatencyHistogram().quantile(0.99), undefined);
  });
});

describe('bucket split', () => {
  const request = (headers: Record<string, string>, remoteAddress = '10.0.0.1') => ({ headers, socket: { remoteAddress } }) as unknown as IncomingMessage;
  const canary = { generation: 5, host: '127.0.0.1', port: 1 };

  it('sends a key to the canary by its bucket, and a forced side wins', () => {
    const split = new BucketSplit({ key: { kind: 'header', name: 'x-user-id' }, bucketing: 'airlock' }, 'api', canary, { mode: 'header' });
    split.share = 10;
    const keys = Array.from({ length: 2000 }, (_, i) => `u${i}`);
    for (const key of keys) assert.equal(split.choose(request({ 'x-user-id': key })).canary, bucketOf(key, 'api') <= 1000, key);
    const stableKey = keys.find((key) => bucketOf(key, 'api') > 1000) as string;
    assert.equal(split.choose(request({ 'x-user-id': stableKey, 'x-airlock-canary': 'always' })).canary, true);
    const canaryKey = keys.find((key) => bucketOf(key, 'api') <= 1000) as string;
    assert.equal(split.choose(request({ 'x-user-id': canaryKey, 'x-airlock-canary': 'never' })).canary, false);
    assert.equal(split.choose(request({})).canary, false, 'no key: stable');
    split.share = 0;
    assert.equal(split.choose(request({ 'x-user-id': canaryKey })).canary, false, 'share 0: nobody');
  });

  it('keys by cookie, by address, or by a random airlock_uid it sets once', () => {
    const byCookie = new BucketSplit({ key: { kind: 'cookie', name: 'sid' }, bucketing: 'airlock' }, 'g', canary);
    byCookie.share = 100;
    assert.equal(byCookie.choose(request({ cookie: 'a=1; sid=abc' })).canary, true);
    assert.equal(cookieValue('a=1; sid="q u"; b=2', 'sid'), 'q u');
    const byIp = new BucketSplit({ key: { kind: 'ip' }, bucketing: 'airlock' }, 'g', canary);
    byIp.share = 50;
    assert.equal(byIp.choose(request({}, '10.1.2.3')).canary, bucketOf('10.1.2.3', 'g') <= 5000);
    const random = new BucketSplit({ key: { kind: 'random' }, bucketing: 'airlock' }, 'g', canary);
    random.share = 50;
    const first = random.choose(request({}));
    assert.match(first.setCookie ?? '', /^airlock_uid=[0-9a-f-]{36}; Path=\/; Max-Age=31536000; HttpOnly; SameSite=Lax$/);
    const uid = (first.setCookie as string).split(';')[0] as string;
    const again = random.choose(request({ cookie: uid }));
    assert.equal(again.setCookie, undefined, 'a user with the cookie keeps it');
    assert.equal(again.canary, first.canary, 'and the same side');
  });
});
