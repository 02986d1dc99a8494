import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { EventBus } from '../events.js';
import { groupRss } from '../health/memory.js';
import { PROXY_RESPONSE_CHANNEL, type ProxyResponse } from '../proxy/http-proxy.js';
import { LatencyHistogram } from '../rollout/latency.js';
import { isAlive } from '../supervise/proc.js';

/** How often the memory of the generations compared is read. */
const SAMPLE_MS = 1_000;

/** One generation's figures since it became ready, for comparing it with the one before. */
export interface GenerationRecord {
  readonly generation: number;
  /** From its spawn to passing its health gate (start + ready phases). */
  readonly startupMs: number;
  /** The most its process group held, sampled every second while it ran. */
  readonly memoryPeakBytes: number | undefined;
  /** Requests the proxy answered from it (proxy handoff only; 0 otherwise). */
  readonly requests: number;
  /** Share of those answered 2xx (0..1); undefined before any request. */
  readonly share2xx: number | undefined;
  readonly p99Ms: number | undefined;
}

/** The serving generation beside the one before it (`airlock status --compare`). */
export interface Comparison {
  readonly serving: GenerationRecord;
  readonly previous?: GenerationRecord;
}

class Tracked {
  memoryPeakBytes: number | undefined;
  requests = 0;
  ok = 0;
  readonly latency = new LatencyHistogram();

  constructor(
    readonly generation: number,
    readonly pid: number,
    readonly startupMs: number,
  ) {}

  record(): GenerationRecord {
    const { generation, startupMs, memoryPeakBytes, requests } = this;
    return { generation, startupMs, memoryPeakBytes, requests, share2xx: requests === 0 ? undefined : this.ok / requests, p99Ms: this.latency.quantile(0.99) };
  }
}

/**
 * The version snapshot: per service, the serving generation beside the one before it
 * (start-up time, memory peak, share of 2xx, p99, requests served), so a regression is
 * visible at a glance in `airlock status --compare` and the dashboard. Fed by the event
 * bus (reload.ready) and the proxy's response channel; memory read from /proc.
 *
 * @example
 *   const records = new GenerationRecords(bus);
 *   records.compare('api'); // { serving: { generation: 4, p99Ms: 12.3, … }, previous: { generation: 3, … } }
 */
export class GenerationRecords {
  readonly #services = new Map<string, Tracked[]>();
  readonly #unsubscribe: () => void;
  readonly #timer: NodeJS.Timeout;

  constructor(bus: EventBus) {
    this.#unsubscribe = bus.subscribe((event) => {
      if (event.type !== 'reload.ready') return;
      const startupMs = (event.phases.start ?? 0) + (event.phases.ready ?? 0);
      const kept = [...(this.#services.get(event.service) ?? []), new Tracked(event.generation, event.pid, startupMs)].slice(-2);
      this.#services.set(event.service, kept);
      this.#sample();
    }, 'generation records');
    subscribe(PROXY_RESPONSE_CHANNEL, this.#onResponse);
    this.#timer = setInterval(() => this.#sample(), SAMPLE_MS);
    this.#timer.unref();
  }

  readonly #onResponse = (message: unknown): void => {
    const response = message as ProxyResponse;
    if (response.forced || response.clientAborted) return;
    const tracked = this.#services.get(response.service)?.find((t) => t.generation === response.generation);
    if (tracked === undefined) return;
    tracked.requests += 1;
    if (response.status >= 200 && response.status < 300) tracked.ok += 1;
    tracked.latency.record(response.ms);
  };

  #sample(): void {
    for (const list of this.#services.values()) {
      for (const tracked of list) {
        if (!isAlive(tracked.pid)) continue;
        const rss = groupRss(tracked.pid);
        if (rss > 0) tracked.memoryPeakBytes = Math.max(tracked.memoryPeakBytes ?? 0, rss);
      }
    }
  }

  /** The serving generation and the one before it, or undefined before the first is ready. */
  compare(service: string): Comparison | undefined {
    const list = this.#services.get(service) ?? [];
    const serving = list.at(-1);
    if (serving === undefined) return undefined;
    const previous = list.length > 1 ? list[0] : undefined;
    return { serving: serving.record(), ...(previous ? { previous: previous.record() } : {}) };
  }

  close(): void {
    this.#unsubscribe();
    unsubscribe(PROXY_RESPONSE_CHANNEL, this.#onResponse);
    clearInterval(this.#timer);
  }
}
