import assert from 'node:assert/strict';
import { channel } from 'node:diagnostics_channel';
import type { IncomingMessage } from 'node:http';
import { describe, it } from 'node:test';
import { PROXY_REQUEST_CHANNEL, PROXY_RESPONSE_CHANNEL } from '../src/proxy/http-proxy.ts';
import { judge } from '../src/rollout/analysis.ts';
import { bucketOf } from '../src/rollout/bucket.ts';
import { errorRateConfidence, normalCdf, normalQuantile } from '../src/rollout/compare.ts';
import { LatencyHistogram } from '../src/rollout/latency.ts';
import { BucketSplit } from '../src/rollout/split.ts';
import { RolloutStats } from '../src/rollout/stats.ts';
import type { RolloutFigures } from '../src/events.ts';

const request = (headers: Record<string, string>) => ({ headers, socket: { remoteAddress: '10.0.0.1' } }) as unknown as IncomingMessage;
const canary = { generation: 5, host: '127.0.0.1', port: 1 };
const plan = { key: { kind: 'header', name: 'x-user-id' }, bucketing: 'airlock' } as const;
const analysis = { maxErrorRate: 0.05, maxP99IncreaseMs: 50, minRequests: 100, failureLimit: 0, confidence: 0.999 };

function side(generation: number, requests: number, errors = 0): RolloutFigures {
  return { generation, requests, errors, errorRate: requests === 0 ? 0 : errors / requests, p50Ms: 5, p99Ms: 10 };
}

describe('forcing a side is the operator’s to allow', () => {
  it('ignores x-airlock-canary unless force allows it, and marks forced choices', () => {
    const off = new BucketSplit(plan, 'api', canary);
    off.share = 0;
    assert.deepEqual(off.choose(request({ 'x-user-id': 'u1', 'x-airlock-canary': 'always' })), { canary: false });
    const header = new BucketSplit(plan, 'api', canary, { mode: 'header' });
    assert.deepEqual(header.choose(request({ 'x-airlock-canary': 'always' })), { canary: true, forced: true });
    const token = new BucketSplit(plan, 'api', canary, { mode: 'token', token: 'a-secret-of-16-chars' });
    assert.deepEqual(token.choose(request({ 'x-airlock-canary': 'always' })), { canary: false }, 'no token: bucketed like anyone');
    assert.deepEqual(token.choose(request({ 'x-airlock-canary': 'always', 'x-airlock-canary-token': 'wrong' })), { canary: false });
    assert.deepEqual(token.choose(request({ 'x-airlock-canary': 'always', 'x-airlock-canary-token': 'a-secret-of-16-chars' })), { canary: true, forced: true });
  });

  it('hashes a header key as the UTF-8 bytes the client sent, as the CLI does', () => {
    const split = new BucketSplit(plan, 'g', canary);
    split.share = 10;
    for (const key of ['müller', 'Łódź', '東京', 'naïve', 'plain']) {
      // What Node hands over for UTF-8 header bytes: one Latin-1 character per byte.
      const onTheWire = Buffer.from(key, 'utf8').toString('latin1');
      assert.equal(split.choose(request({ 'x-user-id': onTheWire })).canary, bucketOf(key, 'g') <= 1000, key);
    }
  });
});

describe('only real users are judged', () => {
  it('counts forced answers, client disconnects and requests hung past the latency bound apart from answers', () => {
    const stats = new RolloutStats('svc-trust', 4, 5, () => 0);
    const respond = channel(PROXY_RESPONSE_CHANNEL);
    const send = channel(PROXY_REQUEST_CHANNEL);
    try {
      for (let i = 0; i < 10; i++) respond.publish({ service: 'svc-trust', generation: 5, status: 200, ms: 1 });
      respond.publish({ service: 'svc-trust', generation: 5, status: 500, ms: 1, forced: true });
      respond.publish({ service: 'svc-trust', generation: 5, status: 499, ms: 300, clientAborted: true });
      send.publish({ service: 'svc-trust', generation: 5, id: 77, forced: false });
      send.publish({ service: 'svc-trust', generation: 5, id: 78, forced: true });
      const { canary: figures } = stats.take();
      assert.deepEqual([figures.requests, figures.errors, figures.forced, figures.disconnects, figures.hanging], [11, 1, 1, 1, 1]);
      // Its answer comes at last: counted once already.
      respond.publish({ service: 'svc-trust', generation: 5, status: 200, ms: 90_000, id: 77 });
      assert.equal(stats.take().canary.requests, 0);
    } finally {
      stats.close();
    }
  });
});

describe('canary against stable with tests that know their sample size', () => {
  it('has a normal distribution function and a confidence that grows with evidence', () => {
    assert.ok(Math.abs(normalCdf(0) - 0.5) < 1e-7);
    assert.ok(Math.abs(normalCdf(3.090232) - 0.999) < 1e-6);
    assert.ok(Math.abs(normalCdf(-1.959964) - 0.025) < 1e-6);
    assert.equal(errorRateConfidence({ errors: 0, requests: 100 }, { errors: 0, requests: 100 }), 0.5);
    const few = errorRateConfidence({ errors: 3, requests: 100 }, { errors: 0, requests: 100 });
    const many = errorRateConfidence({ errors: 30, requests: 1000 }, { errors: 0, requests: 1000 });
    assert.ok(few > 0.9 && few < 0.99, String(few));
    assert.ok(many > 0.99999, String(many));
  });

  it('fails a canary worse than stable below the absolute guard once the evidence is strong, with its confidence and score', () => {
    const worse = judge(side(5, 2000, 60), side(4, 2000, 2), analysis, undefined);
    assert.equal(worse.kind, 'fail');
    assert.match(worse.reason, /^error rate 3\.00 % \(60 of 2000\) vs stable 0\.10 % \(2 of 2000\): higher with 100\.00 % confidence$/);
    const same = judge(side(5, 2000, 4), side(4, 2000, 3), analysis, undefined);
    assert.equal(same.kind, 'pass');
    assert.ok(same.kind === 'pass' && same.score !== undefined && same.score > 50, JSON.stringify(same));
    // Under five canary errors only the absolute guard speaks.
    assert.equal(judge(side(5, 200, 2), side(4, 2000, 0), analysis, undefined).kind, 'pass');
  });

  it('holds its verdicts on random windows: a 3 % canary fails and a 0 % one passes, 2,000 times each with a fixed seed', () => {
    let seed = 42;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const draw = (n: number, p: number) => Array.from({ length: n }).filter(() => random() < p).length;
    for (let i = 0; i < 2000; i++) {
      const bad = judge(side(5, 1500, draw(1500, 0.03)), side(4, 1500, draw(1500, 0)), { ...analysis, maxErrorRate: 0.5 }, undefined);
      assert.equal(bad.kind, 'fail', `run ${i}: ${bad.reason}`);
      const good = judge(side(5, 1500, draw(1500, 0.002)), side(4, 1500, draw(1500, 0.002)), { ...analysis, maxErrorRate: 0.5 }, undefined);
      assert.equal(good.kind, 'pass', `run ${i}: ${good.reason}`);
    }
  });

  it('judges p99 on its confidence interval: a small window\'s tail aborts nothing, a large one\'s does', () => {
    assert.ok(Math.abs(normalQuantile(0.999) - 3.0902) < 1e-3);
    const window = (n: number, slow: number) => {
      const h = new LatencyHistogram();
      for (let i = 0; i < n; i++) h.record(i < slow ? 300 : 10);
      return h;
    };
    // 2 of 100 slow: p99 is 300 ms, but its interval reaches down to the fast requests.
    const small = window(100, 2).quantileBounds(0.99, 3.09);
    assert.ok(small !== undefined && small.low < 11 && small.high > 290, JSON.stringify(small));
    // 200 of 10,000 slow: the p99 is surely slow.
    const large = window(10_000, 200).quantileBounds(0.99, 3.09);
    assert.ok(large !== undefined && large.low > 290, JSON.stringify(large));
    const stable = { ...side(4, 2000), p99LowMs: 10, p99HighMs: 11 };
    const noisy = judge({ ...side(5, 100), p99Ms: 300, p99LowMs: small.low, p99HighMs: small.high }, stable, analysis, undefined);
    assert.equal(noisy.kind, 'pass', noisy.reason);
    const slow = judge({ ...side(5, 10_000), p99Ms: 300, p99LowMs: large.low, p99HighMs: large.high }, stable, analysis, undefined);
    assert.equal(slow.kind, 'fail');
    assert.match(slow.reason, /^p99 300 ms vs stable 10 ms: \+290 ms > 50 ms \(at 99\.9 %: canary p99 ≥ \d+ ms, stable p99 ≤ 11 ms\)$/);
  });
});
