import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { PROXY_REQUEST_CHANNEL, PROXY_RESPONSE_CHANNEL, type ProxyRequest, type ProxyResponse } from '../proxy/http-proxy.js';
import type { RolloutFigures as WindowFigures } from '../events.js';
import { LatencyHistogram } from './latency.js';

export type { WindowFigures };

class Side {
  requests = 0;
  errors = 0;
  /** Answers to forced requests (an operator's tests): counted apart, never judged. */
  forced = 0;
  /** Clients that went away before their answer was complete: counted apart, never a 5xx. */
  disconnects = 0;
  histogram = new LatencyHistogram();

  constructor(readonly generation: number) {}

  /** A request held past the latency bound: it counts as a failed answer now (and its late answer, if any, not again). */
  hung(): void {
    this.requests += 1;
    this.errors += 1;
    this.hanging += 1;
  }

  /** Requests still open past the latency bound when the window closed (counted in errors). */
  hanging = 0;

  see(response: ProxyResponse): void {
    if (response.forced) {
      this.forced += 1;
      return;
    }
    if (response.clientAborted) {
      this.disconnects += 1;
      return;
    }
    this.requests += 1;
    if (response.status >= 500) this.errors += 1;
    this.histogram.record(response.ms);
  }

  figures(z: number): WindowFigures {
    const { generation, requests, errors, forced, disconnects, hanging } = this;
    const bounds = this.histogram.quantileBounds(0.99, z);
    const p99Bounds = bounds === undefined ? {} : { p99LowMs: bounds.low, p99HighMs: bounds.high };
    return { generation, requests, errors, errorRate: requests === 0 ? 0 : errors / requests, p50Ms: this.histogram.quantile(0.5), p99Ms: this.histogram.quantile(0.99), ...p99Bounds, forced, disconnects, hanging };
  }
}

/**
 * The proxy's answers of one rollout's two generations, counted per window: every answer
 * the proxy publishes (PROXY_RESPONSE_CHANNEL) for the service, by the generation that
 * gave it. Only real users' answers are judged: forced requests and clients that gave up
 * are counted apart. `take()` closes a window and opens the next, so both sides are always compared
 * over the same stretch of time.
 *
 * @example
 *   const stats = new RolloutStats('api', 4, 5);
 *   const { stable, canary } = stats.take();
 *   stats.close();
 */
export class RolloutStats {
  #stable: Side;
  #canary: Side;
  /** Real users' requests sent and not yet answered: id → generation and when. */
  readonly #open = new Map<number, { generation: number; at: number }>();
  /** Requests counted as hung (id → generation), while still open: their late answers are not counted again. */
  readonly #hung = new Map<number, number>();
  readonly #listener = (message: unknown) => {
    const response = message as ProxyResponse;
    if (response.service !== this.service) return;
    if (response.id !== undefined) {
      this.#open.delete(response.id);
      if (this.#hung.delete(response.id)) return;
    }
    if (response.generation === this.#canary.generation) this.#canary.see(response);
    else if (response.generation === this.#stable.generation) this.#stable.see(response);
  };
  readonly #onRequest = (message: unknown) => {
    const request = message as ProxyRequest;
    if (request.service !== this.service || request.forced) return;
    this.#open.set(request.id, { generation: request.generation, at: performance.now() });
  };

  constructor(
    private readonly service: string,
    stable: number,
    canary: number,
    /** How long a request may stay open before it counts against its side (default: never). */
    private readonly latencyBound: (stableP99Ms: number | undefined) => number = () => Infinity,
    /** The z of the p99 confidence intervals (analysis.confidence, one-sided). */
    private readonly z = 3.09,
  ) {
    this.#stable = new Side(stable);
    this.#canary = new Side(canary);
    subscribe(PROXY_RESPONSE_CHANNEL, this.#listener);
    subscribe(PROXY_REQUEST_CHANNEL, this.#onRequest);
  }

  /** Requests open longer than the latency bound count as failures of their side, once. */
  #countHanging(): void {
    const bound = this.latencyBound(this.#stable.histogram.quantile(0.99));
    const now = performance.now();
    for (const [id, open] of this.#open) {
      if (now - open.at <= bound) continue;
      const side = open.generation === this.#canary.generation ? this.#canary : open.generation === this.#stable.generation ? this.#stable : undefined;
      this.#open.delete(id);
      if (side === undefined) continue;
      side.hung();
      this.#hung.set(id, open.generation);
    }
  }

  /** The figures of the window so far, without closing it (airlock rollout status). */
  peek(): { stable: WindowFigures; canary: WindowFigures } {
    this.#countHanging();
    const stillHanging = (generation: number) => [...this.#hung.values()].filter((g) => g === generation).length;
    return {
      stable: { ...this.#stable.figures(this.z), stillHanging: stillHanging(this.#stable.generation) },
      canary: { ...this.#canary.figures(this.z), stillHanging: stillHanging(this.#canary.generation) },
    };
  }

  /** Closes the window: its figures, and a fresh window from now. */
  take(): { stable: WindowFigures; canary: WindowFigures } {
    const figures = this.peek();
    this.#stable = new Side(this.#stable.generation);
    this.#canary = new Side(this.#canary.generation);
    return figures;
  }

  close(): void {
    unsubscribe(PROXY_RESPONSE_CHANNEL, this.#listener);
    unsubscribe(PROXY_REQUEST_CHANNEL, this.#onRequest);
  }
}
