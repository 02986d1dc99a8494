import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TargetFile } from '@tufjs/models';
import { parseLocation } from '../src/config/release-location.ts';
import { AirlockError } from '../src/errors.ts';
import { cohortFor } from '../src/fleet/cohort.ts';
import type { Heartbeat } from '../src/fleet/heartbeat.ts';
import { mergedWindow } from '../src/fleet/window.ts';
import type { AgentState } from '../src/release/agent-state.ts';
import type { Release } from '../src/release/channel.ts';
import { chooseRelease } from '../src/release/choice.ts';
import type { FleetState } from '../src/release/rollout-role.ts';
import { LatencyHistogram } from '../src/rollout/latency.ts';

describe('parseLocation', () => {
  it('tells a directory, an http URL and a NATS repository apart', () => {
    assert.deepEqual(parseLocation('releases/channel'), { kind: 'dir', path: 'releases/channel', display: 'releases/channel' });
    assert.equal(parseLocation('https://example.com/repo').kind, 'http');
    const nats = parseLocation('nats://127.0.0.1:4222/releases');
    assert.deepEqual(nats, { kind: 'nats', servers: ['127.0.0.1:4222'], tls: false, repo: 'releases', display: 'nats://127.0.0.1:4222/releases' });
  });

  it('reads a cluster, credentials and TLS, and never shows the credentials', () => {
    const users = parseLocation('tls://ops:s%40cret@n1:4222,n2:4222/prod-1/');
    assert.equal(users.kind, 'nats');
    if (users.kind !== 'nats') return;
    assert.deepEqual(users.servers, ['n1:4222', 'n2:4222']);
    assert.equal(users.tls, true);
    assert.equal(users.user, 'ops');
    assert.equal(users.pass, 's@cret');
    assert.equal(users.display, 'tls://n1:4222,n2:4222/prod-1');
    const token = parseLocation('nats://t0ken@[::1]:4222/r');
    assert.equal(token.kind === 'nats' && token.token, 't0ken');
  });

  it('refuses a bad repository name or server with the value and an example', () => {
    for (const bad of ['nats://127.0.0.1:4222/', 'nats://127.0.0.1:4222/a.b', 'nats://127.0.0.1:4222/a/b', 'nats://h:port/r', 'ftp://x/y']) {
      assert.throws(
        () => parseLocation(bad, 'release.from'),
        (error: unknown) => error instanceof AirlockError && error.code === 'USAGE_FLAG' && error.message.includes('release.from') && error.message.includes(JSON.stringify(bad)),
        bad,
      );
    }
  });
});

describe('chooseRelease', () => {
  const release = (version: number, staged = false): Release => ({
    service: 'web',
    channel: 'stable',
    version,
    ...(staged ? { staged } : {}),
    target: new TargetFile({ path: `web/stable/${version}`, length: 1, hashes: { sha256: String(version).padStart(64, '0') } }),
    sha256: String(version).padStart(64, '0'),
  });
  const fresh: AgentState = { highest: 0, applied: undefined, bad: {} };
  const where = { from: 'repo', service: 'web', channel: 'stable' };
  const state = (canary?: { version: number; hosts: string[] }, head?: number): FleetState => ({
    seq: 1,
    ...(head === undefined ? {} : { head }),
    ...(canary === undefined ? {} : { canary: { ...canary, steps: [34, 100], step: 0, stepStartedAt: '2026-12-07T00:00:00Z' } }),
  });

  it('runs the newest release not staged; a staged one only on the canary hosts the state names', () => {
    const releases = [release(3, true), release(2), release(1)];
    assert.deepEqual(chooseRelease(releases, undefined, 'a', fresh, where).release.version, 2);
    const rollout = state({ version: 3, hosts: ['a'] });
    assert.deepEqual(chooseRelease(releases, rollout, 'a', fresh, where), { release: releases[0], role: 'canary' });
    assert.equal(chooseRelease(releases, rollout, 'b', fresh, where).release.version, 2);
  });

  it('takes a staged release as the head once a rollout promoted it', () => {
    const releases = [release(3, true), release(2)];
    assert.deepEqual(chooseRelease(releases, state(undefined, 3), 'b', fresh, where).role, 'head');
    assert.equal(chooseRelease(releases, state(undefined, 3), 'b', fresh, where).release.version, 3);
  });

  it('passes over a bad canary here, and a bad head for the next one down, but never below the highest applied', () => {
    const releases = [release(3, true), release(2), release(1)];
    const rollout = state({ version: 3, hosts: ['a'] });
    assert.equal(chooseRelease(releases, rollout, 'a', { ...fresh, bad: { 3: 'failed its gate' } }, where).release.version, 2);
    assert.equal(chooseRelease(releases, undefined, 'a', { ...fresh, bad: { 2: 'rolled back' } }, where).release.version, 1);
    assert.throws(() => chooseRelease(releases, undefined, 'a', { highest: 2, applied: undefined, bad: { 2: 'rolled back' } }, where), /marked bad: 2 \(rolled back\)/);
  });

  it('refuses a channel whose head is below what this host applied (a replay), and one with only staged releases', () => {
    assert.throws(() => chooseRelease([release(1)], undefined, 'a', { ...fresh, highest: 2 }, where), (error: unknown) => error instanceof AirlockError && error.code === 'RELEASE_VERSION');
    assert.throws(() => chooseRelease([release(1, true)], undefined, 'a', fresh, where), /1 staged/);
  });
});

describe('cohortFor', () => {
  const hosts = Array.from({ length: 20 }, (_, i) => `host-${i}`);

  it('takes the share of live hosts nearest the percent, at least one', () => {
    assert.equal(cohortFor(hosts, [], 1, 'web', 7).length, 1);
    assert.equal(cohortFor(hosts, [], 34, 'web', 7).length, 7);
    assert.equal(cohortFor(hosts, [], 100, 'web', 7).length, 20);
    assert.equal(cohortFor(['a', 'b', 'c'], [], 34, 'web', 7).length, 1);
  });

  it('chooses the same hosts whatever order they are listed in, and different hosts for another release', () => {
    const first = cohortFor(hosts, [], 25, 'web', 7);
    assert.deepEqual(cohortFor([...hosts].reverse(), [], 25, 'web', 7), first);
    assert.notDeepEqual(cohortFor(hosts, [], 25, 'web', 8), first);
  });

  it('only grows: a later step keeps the hosts already on it, in the order they joined', () => {
    const first = cohortFor(hosts, [], 10, 'web', 7);
    const second = cohortFor(hosts, first, 50, 'web', 7);
    assert.deepEqual(second.slice(0, first.length), first);
    assert.equal(second.length, 10);
    // A host gone from the live set stays listed (it may come back) but no longer counts toward the share.
    const gone = first[0] as string;
    const third = cohortFor(hosts.filter((host) => host !== gone), first, 10, 'web', 7);
    assert.ok(third.includes(gone));
    assert.equal(third.filter((host) => host !== gone).length, 2);
  });
});

describe('mergedWindow', () => {
  const figures = (generation: number, requests: number, errors: number, latencies: number[]): Heartbeat['figures'] => {
    const histogram = new LatencyHistogram();
    for (const ms of latencies) histogram.record(ms);
    return { generation, requests, errors, histogram: histogram.toSparse() };
  };

  it('adds each host end minus start; a host whose generation changed counts its whole end', () => {
    const start = new Map([
      ['a', figures(1, 100, 1, Array(100).fill(5))],
      ['b', figures(1, 50, 0, Array(50).fill(5))],
    ]);
    const end = new Map([
      ['a', figures(1, 300, 11, [...Array(100).fill(5), ...Array(200).fill(50)])],
      ['b', figures(2, 40, 0, Array(40).fill(5))],
      ['c', figures(1, 1000, 1000, [])],
    ]);
    const merged = mergedWindow(['a', 'b'], start, end, 7);
    assert.equal(merged.generation, 7);
    assert.equal(merged.requests, 200 + 40);
    assert.equal(merged.errors, 10);
    assert.equal(merged.errorRate, 10 / 240);
    // 200 answers near 50 ms and 40 near 5 ms: the p99 is in the 50 ms bucket, not the start's 5 ms.
    assert.ok((merged.p99Ms ?? 0) >= 50, String(merged.p99Ms));
  });

  it('is empty for hosts with no heartbeat', () => {
    const merged = mergedWindow(['x'], new Map(), new Map(), 3);
    assert.equal(merged.requests, 0);
    assert.equal(merged.errorRate, 0);
    assert.equal(merged.p99Ms, undefined);
  });
});
