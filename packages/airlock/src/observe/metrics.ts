import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { EventBus } from '../events.js';
import { fullCode } from '../errors.js';
import { listenOn } from '../proxy/listen.js';
import { PROXY_RESPONSE_CHANNEL, type ProxyResponse } from '../proxy/http-proxy.js';

const PHASE_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
/** Generations per service whose request counts keep a series of their own. */
export const GENERATION_SERIES = 4;
const REQUEST_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10];

/**
 * Prometheus metrics (docs/observability.md), fed only by what the core publishes: the
 * event bus, and the proxy's per-request diagnostics channel.
 *
 * @example
 *   const metrics = subscribeMetrics(bus);
 *   await metrics.listen('127.0.0.1', 9464); // GET /metrics
 */
export function subscribeMetrics(bus: EventBus) {
  const registry = new Registry();
  const reloads = new Counter({
    name: 'airlock_reloads_total',
    help: 'Reloads by result: success, build_failed, start_failed, rolled_back, rollout_aborted.',
    labelNames: ['service', 'result'],
    registers: [registry],
  });
  const phases = new Histogram({
    name: 'airlock_reload_phase_seconds',
    help: 'Duration of each reload phase: detect, build, stop, start, ready, swap, drain.',
    labelNames: ['service', 'phase'],
    buckets: PHASE_BUCKETS,
    registers: [registry],
  });
  const generations = new Gauge({
    name: 'airlock_generations',
    help: 'Running generations by state: starting, ready, draining.',
    labelNames: ['service', 'state'],
    registers: [registry],
  });
  const share = new Gauge({
    name: 'airlock_rollout_share',
    help: 'Percent of users on the canary of a rollout (100 once promoted, 0 once aborted).',
    labelNames: ['service'],
    registers: [registry],
  });
  const releaseVersion = new Gauge({
    name: 'airlock_release_version',
    help: 'The release version that takes traffic (airlock agent), by service and channel.',
    labelNames: ['service', 'channel'],
    registers: [registry],
  });
  const requests = new Counter({
    name: 'airlock_proxy_requests_total',
    help: 'Requests answered through the proxy, by generation and status code.',
    labelNames: ['service', 'generation', 'code'],
    registers: [registry],
  });
  const durations = new Histogram({
    name: 'airlock_proxy_request_duration_seconds',
    help: 'Time from a request reaching the proxy to its response being sent.',
    labelNames: ['service'],
    buckets: REQUEST_BUCKETS,
    registers: [registry],
  });

  // Generation states, tracked from the events, rendered as gauges.
  const state = new Map<string, Map<number, 'starting' | 'ready' | 'draining'>>();
  const render = (service: string) => {
    const counts = { starting: 0, ready: 0, draining: 0 };
    for (const value of state.get(service)?.values() ?? []) counts[value]++;
    for (const [label, count] of Object.entries(counts)) generations.set({ service, state: label }, count);
  };
  const setState = (service: string, generation: number, value: 'starting' | 'ready' | 'draining' | undefined) => {
    const map = state.get(service) ?? new Map();
    state.set(service, map);
    if (value === undefined) map.delete(generation);
    else map.set(generation, value);
    render(service);
  };

  const stopBus = bus.subscribe((event) => {
    const service = event.service;
    switch (event.type) {
      case 'process.started':
        return setState(service, event.generation, 'starting');
      case 'reload.ready':
        reloads.inc({ service, result: 'success' });
        for (const [phase, ms] of Object.entries(event.phases)) phases.observe({ service, phase }, (ms ?? 0) / 1000);
        for (const [generation, value] of state.get(service) ?? []) if (value === 'ready' && generation !== event.generation) setState(service, generation, 'draining');
        return setState(service, event.generation, 'ready');
      case 'generation.drained':
        return phases.observe({ service, phase: 'drain' }, event.ms / 1000);
      case 'process.exited':
        return setState(service, event.generation, undefined);
      case 'build.failed':
        return reloads.inc({ service, result: 'build_failed' });
      case 'reload.failed':
        return reloads.inc({ service, result: 'start_failed' });
      case 'rollback':
        return reloads.inc({ service, result: 'rolled_back' });
      case 'rollout.step':
        // Both serve while a rollout runs (reload.ready took the stable one for draining).
        setState(service, event.stable, 'ready');
        return share.set({ service }, event.share);
      case 'rollout.held':
        return share.set({ service }, event.share);
      case 'rollout.promoted':
        setState(service, event.stable, 'draining');
        return share.set({ service }, 100);
      case 'rollout.aborted':
        setState(service, event.canary, 'draining');
        reloads.inc({ service, result: 'rollout_aborted' });
        return share.set({ service }, 0);
      case 'release.applied':
        return releaseVersion.set({ service, channel: event.channel }, event.version);
    }
  }, 'metrics');
  // The generation label would add series for ever: only the newest few generations keep theirs.
  const labelled = new Map<string, { generation: number; codes: Set<string> }[]>();
  const countRequest = (service: string, generation: number, code: string) => {
    const kept = labelled.get(service) ?? [];
    labelled.set(service, kept);
    let entry = kept.find((k) => k.generation === generation);
    if (entry === undefined) {
      entry = { generation, codes: new Set() };
      kept.push(entry);
      kept.sort((a, b) => a.generation - b.generation);
      for (const old of kept.splice(0, Math.max(0, kept.length - GENERATION_SERIES))) {
        for (const oldCode of old.codes) requests.remove({ service, generation: String(old.generation), code: oldCode });
      }
    }
    entry.codes.add(code);
    requests.inc({ service, generation: String(generation), code });
  };
  const onResponse = (message: unknown) => {
    const r = message as ProxyResponse;
    countRequest(r.service, r.generation, String(r.status));
    durations.observe({ service: r.service }, r.ms / 1000);
  };
  subscribe(PROXY_RESPONSE_CHANNEL, onResponse);

  let server: Server | undefined;
  return {
    registry,
    /** Serves GET /metrics (Prometheus text format) on host:port. */
    listen(host: string, port: number): Promise<void> {
      server = createServer((req, res) => {
        if (req.url !== '/metrics') {
          res.writeHead(404).end('try /metrics\n');
          return;
        }
        registry.metrics().then(
          (text) => {
            res.writeHead(200, { 'content-type': registry.contentType });
            res.end(text);
          },
          (error: unknown) => res.writeHead(500).end(`metrics failed: ${String(error)}\n`),
        );
      });
      return listenOn(server, host, port, (message) => bus.emit({ type: 'error', service: 'airlock', code: fullCode('INTERNAL'), message: `metrics: ${message}` }));
    },
    async close(): Promise<void> {
      stopBus();
      unsubscribe(PROXY_RESPONSE_CHANNEL, onResponse);
      await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    },
  };
}
