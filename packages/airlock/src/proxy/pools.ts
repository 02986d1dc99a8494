import type { Dispatcher, Pool } from 'undici';
import type { Backend } from './backends.js';
import type { ResponseInterceptor } from './extensions.js';

/** undici loads with the first HTTP proxy (~100 ms of start-up that fd, tcp-proxy and restart services never need). */
let undici: typeof import('undici') | undefined;

/** Loads undici; call before the first get() (the proxy does, before it listens). */
export async function loadUndici(): Promise<void> {
  undici ??= await import('undici');
}

/**
 * The proxy's keep-alive connections to each generation, one pool per generation, so a
 * retiring generation's connections can be closed (when idle) before it gets its stop
 * signal, and no request is ever sent on a connection the old process is closing.
 *
 * @example
 *   const pools = new UpstreamPools();
 *   pools.get({ generation: 2, host: '127.0.0.1', port: 41234 }).dispatch(...);
 *   await pools.retire(1, true);
 */
export class UpstreamPools {
  readonly #pools = new Map<number, Pool>();
  /** Each pool with the interceptors composed on (the pool itself when there are none: no cost). */
  readonly #dispatchers = new Map<number, Dispatcher>();

  constructor(private readonly interceptors: readonly ResponseInterceptor[] = []) {}

  get(backend: Backend): Dispatcher {
    let dispatcher = this.#dispatchers.get(backend.generation);
    if (dispatcher === undefined) {
      if (undici === undefined) throw new Error('loadUndici() must be awaited before the proxy forwards');
      const pool = new undici.Pool(`http://${backend.host}:${backend.port}`, { connections: 128, pipelining: 1, keepAliveTimeout: 4_000 });
      this.#pools.set(backend.generation, pool);
      dispatcher = this.interceptors.length > 0 ? pool.compose(...this.interceptors) : pool;
      this.#dispatchers.set(backend.generation, dispatcher);
    }
    return dispatcher;
  }

  /** Closes a generation's connections: gently when it drained (close waits for nothing in flight), else at once. */
  async retire(generation: number, drained: boolean): Promise<void> {
    const pool = this.#pools.get(generation);
    this.#pools.delete(generation);
    this.#dispatchers.delete(generation);
    if (pool) await (drained ? pool.close() : pool.destroy());
  }

  async destroyAll(): Promise<void> {
    await Promise.all([...this.#pools.values()].map((pool) => pool.destroy()));
    this.#pools.clear();
    this.#dispatchers.clear();
  }
}
