import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { PROXY_RESPONSE_CHANNEL, type ProxyResponse } from '../proxy/http-proxy.js';
import type { RolloutFigures as WindowFigures } from '../events.js';
import { LatencyHistogram } from './latency.js';

export type { WindowFigures };

class Side {
  requests = 0;
  errors = 0;
  histogram = new LatencyHistogram();

  constructor(readonly generation: number) {}

  see(response: ProxyResponse): void {
    this.requests += 1;
    if (response.status >= 500) this.errors += 1;
    this.histogram.record(response.ms);
  }

  figures(): WindowFigures {
    const { generation, requests, errors } = this;
    return { generation, requests, errors, errorRate: requests === 0 ? 0 : errors / requests, p50Ms: this.histogram.quantile(0.5), p99Ms: this.histogram.quantile(0.99) };
  }
}

/**
 * The proxy's answers of one rollout's two generations, counted per window: every answer
 * the proxy publishes (PROXY_RESPONSE_CHANNEL) for the service, by the generation that
 * gave it. `take()` closes a window and opens the next, so both sides are always compared
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
  readonly #listener = (message: unknown) => {
    const response = message as ProxyResponse;
    if (response.service !== this.service) return;
    if (response.generation === this.#canary.generation) this.#canary.see(response);
    else if (response.generation === this.#stable.generation) this.#stable.see(response);
  };

  constructor(
    private readonly service: string,
    stable: number,
    canary: number,
  ) {
    this.#stable = new Side(stable);
    this.#canary = new Side(canary);
    subscribe(PROXY_RESPONSE_CHANNEL, this.#listener);
  }

  /** The figures of the window so far, without closing it (airlock rollout status). */
  peek(): { stable: WindowFigures; canary: WindowFigures } {
    return { stable: this.#stable.figures(), canary: this.#canary.figures() };
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
  }
}
