import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import murmurhash from 'murmurhash';
import { bucketOf, onCanary } from '../src/rollout/bucket.ts';

describe('rollout buckets', () => {
  it('hashes with MurmurHash3 x86_32, seed 0 (reference vectors)', () => {
    assert.equal(murmurhash.v3(Buffer.from('', 'utf8'), 0), 0);
    assert.equal(murmurhash.v3(Buffer.from('hello', 'utf8'), 0), 0x248bfa47);
    assert.equal(murmurhash.v3(Buffer.from('The quick brown fox jumps over the lazy dog', 'utf8'), 0), 0x2e4ff723);
  });

  it("gives Unleash's documented buckets with bucketing: unleash", () => {
    assert.equal(bucketOf('123', 'gr1', 'unleash'), 73);
    assert.equal(bucketOf('999', 'groupX', 'unleash'), 25);
  });

  it('hashes the UTF-8 bytes of non-ASCII keys (not UTF-16 code units)', () => {
    for (const key of ['müller', 'ユーザー', '👩‍💻', 'naïve café']) {
      const bytes = Buffer.from(`api:${key}`, 'utf8');
      assert.equal(bucketOf(key, 'api'), (murmurhash.v3(bytes, 0) % 10_000) + 1, key);
      // What a code-unit hash would see: every UTF-16 unit cut to one byte.
      const units = Uint8Array.from([...`api:${key}`].flatMap((c) => [...c].map((u) => u.charCodeAt(0) & 0xff)));
      assert.notEqual(murmurhash.v3(bytes, 0), murmurhash.v3(units, 0), `${key}: differs from a code-unit hash`);
    }
    assert.equal(bucketOf('müller', 'api'), bucketOf('müller', 'api'), 'the same on every call');
  });

  it('puts the share of 100,000 keys within ±0.5 points of the target, and the 1 % cohort inside the 10 %', () => {
    const buckets = Array.from({ length: 100_000 }, (_, i) => bucketOf(`user-${i}`, 'api'));
    for (const percent of [1, 10, 50]) {
      const share = (buckets.filter((b) => onCanary(b, percent)).length / buckets.length) * 100;
      assert.ok(Math.abs(share - percent) <= 0.5, `${percent}%: ${share.toFixed(2)}%`);
    }
    for (const bucket of buckets) if (onCanary(bucket, 1)) assert.ok(onCanary(bucket, 10));
    assert.equal(onCanary(1, 0), false, 'share 0 sends nobody');
    assert.equal(onCanary(10_000, 100), true, 'share 100 sends everyone');
    assert.equal(onCanary(73, 73, 'unleash'), true);
    assert.equal(onCanary(74, 73, 'unleash'), false);
  });
});
