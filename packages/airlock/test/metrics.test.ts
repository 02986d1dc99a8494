import assert from 'node:assert/strict';
import { channel } from 'node:diagnostics_channel';
import { describe, it } from 'node:test';
import { EventBus } from '../src/events.ts';
import { GENERATION_SERIES, subscribeMetrics } from '../src/observe/metrics.ts';
import { PROXY_RESPONSE_CHANNEL, type ProxyResponse } from '../src/proxy/http-proxy.ts';

describe('metrics', () => {
  it('keeps request series for the newest generations only, so series do not grow with every reload', async () => {
    const metrics = subscribeMetrics(new EventBus());
    try {
      const responses = channel(PROXY_RESPONSE_CHANNEL);
      for (let generation = 1; generation <= 20; generation++) {
        for (const status of [200, 502]) responses.publish({ service: 'api', generation, status, ms: 1 } satisfies ProxyResponse);
      }
      const text = await metrics.registry.metrics();
      const generations = new Set([...text.matchAll(/airlock_proxy_requests_total\{service="api",generation="(\d+)"/g)].map((m) => Number(m[1])));
      assert.deepEqual([...generations].sort((a, b) => a - b), Array.from({ length: GENERATION_SERIES }, (_, i) => 20 - GENERATION_SERIES + 1 + i));
    } finally {
      await metrics.close();
    }
  });

  it('follows a rollout in airlock_rollout_share: each step, 100 once promoted, 0 once aborted', async () => {
    const bus = new EventBus();
    const metrics = subscribeMetrics(bus);
    const share = async () => Number(/airlock_rollout_share\{service="api"\} (\S+)/.exec(await metrics.registry.metrics())?.[1]);
    try {
      const base = { service: 'api', canary: 5, stable: 4, reason: 'test' };
      bus.emit({ type: 'rollout.step', ...base, share: 10, step: 2, steps: 4 });
      assert.equal(await share(), 10);
      bus.emit({ type: 'rollout.promoted', ...base, share: 100 });
      assert.equal(await share(), 100);
      bus.emit({ type: 'rollout.aborted', ...base, share: 0, code: 'AIRLOCK_ERR_ROLLOUT_ABORTED' });
      assert.equal(await share(), 0);
    } finally {
      await metrics.close();
    }
  });
});
