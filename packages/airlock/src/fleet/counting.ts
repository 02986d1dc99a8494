import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { PROXY_RESPONSE_CHANNEL, type ProxyResponse } from '../proxy/http-proxy.js';
import { LatencyHistogram } from '../rollout/latency.js';
import type { Heartbeat } from './heartbeat.js';

interface Counts {
  requests: number;
  errors: number;
  histogram: LatencyHistogram;
}

/**
 * The proxy's answers of one service, per generation, from the start: what a heartbeat
 * reports for the generation that serves. Judged the way a canary's window is: answers to
 * forced requests and clients that went away are not counted; a 5xx is an error.
 *
 * @example
 *   const counting = new AnswerCounts('web');
 *   counting.of(3); // { generation: 3, requests: 120, errors: 0, histogram: { 12: 80, … } }
 */
export class AnswerCounts {
  readonly #byGeneration = new Map<number, Counts>();
  readonly #listener = (message: unknown) => {
    const response = message as ProxyResponse;
    if (response.service !== this.service || response.forced || response.clientAborted) return;
    let counts = this.#byGeneration.get(response.generation);
    if (counts === undefined) {
      counts = { requests: 0, errors: 0, histogram: new LatencyHistogram() };
      this.#byGeneration.set(response.generation, counts);
    }
    counts.requests += 1;
    if (response.status >= 500) counts.errors += 1;
    counts.histogram.record(response.ms);
  };

  constructor(private readonly service: string) {
    subscribe(PROXY_RESPONSE_CHANNEL, this.#listener);
  }

  /** A generation's figures so far; older generations' counts are dropped (they no longer serve). */
  of(generation: number): Heartbeat['figures'] {
    for (const old of this.#byGeneration.keys()) if (old < generation) this.#byGeneration.delete(old);
    const counts = this.#byGeneration.get(generation);
    return { generation, requests: counts?.requests ?? 0, errors: counts?.errors ?? 0, histogram: counts?.histogram.toSparse() ?? {} };
  }

  close(): void {
    unsubscribe(PROXY_RESPONSE_CHANNEL, this.#listener);
  }
}
