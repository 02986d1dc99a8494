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
});
