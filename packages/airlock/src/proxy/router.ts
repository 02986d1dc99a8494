import { channel } from 'node:diagnostics_channel';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import type { Backend, InFlight } from './backends.js';
import type { UpstreamPools } from './pools.js';
import { Relay } from './relay.js';

/** Published when a request is sent to a generation (each attempt), so a judge can see requests that never finish. */
export const PROXY_REQUEST_CHANNEL = 'airlock:proxy:request';
export interface ProxyRequest {
  readonly service: string;
  readonly generation: number;
  /** The same id comes back in the request's ProxyResponse; a retry publishes it again (the generation may differ). */
  readonly id: number;
  readonly forced: boolean;
}
const requests = channel(PROXY_REQUEST_CHANNEL);
let nextRequestId = 0;

/** Where this process's request ids start: each proxy worker process has its own range, so ids never meet in the merged figures. */
export function startRequestIdsAt(base: number): void {
  nextRequestId = base;
}

/** One client request on its way through the proxy: what every attempt of it shares. */
export interface ProxiedRequest {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly method: string;
  readonly hasBody: boolean;
  /** performance.now() when it arrived. */
  readonly started: number;
  /** The generation the latest attempt went to (undefined while none was found). */
  backend: Backend | undefined;
  /** Headers airlock adds to the response of the latest attempt (a rollout cookie, x-airlock-generation), flat. */
  extraHeaders: string[];
  /** A rollout side forced by the request: its answer is not a real user's. */
  forced: boolean;
  id: number | undefined;
  /** The answer is over (complete, failed, or the client left): what comes after is not the request's. */
  finished: boolean;
}

/** The dispatch options of a proxied request: undici's, and the request itself (undici ignores the symbol key). */
export const ROUTE = Symbol('airlock.route');
export type RoutedOptions = Dispatcher.DispatchOptions & { readonly [ROUTE]: ProxiedRequest };

/** No generation will take the request: held past proxy.hold, or a crash loop. Never retried. */
export class NoGeneration extends Error {
  readonly code = 'AIRLOCK_NO_GENERATION';
}

export interface RouterDeps {
  readonly service: string;
  readonly pools: UpstreamPools;
  readonly inFlight: InFlight;
  /** The generation for this request now (a rollout's split, else the active one), adding the headers its answer must carry; undefined: wait. */
  pick(request: ProxiedRequest): Backend | undefined;
  /** The active generation, or the next one within the hold time (undefined: none came). */
  acquire(): Promise<Backend | undefined>;
  /** Whether answers carry x-airlock-generation (read per request: an edit applies at once). */
  debugHeaders?(): boolean;
}

/**
 * The bottom of the proxy's dispatch chain: sends each attempt of a request to the
 * generation that should take it now, through that generation's pool, counting it in
 * flight there until its upstream exchange is over. Interceptors (the retry policy) sit
 * above it and dispatch again through it, so a retry is routed afresh. The chain passes
 * handlers in undici's raw form (onHeaders with the header Buffers, as undici's client
 * calls them): the object form (onResponseStart) would parse every response's headers
 * into an object and back, costing each request twice.
 *
 * @example
 *   const router = new GenerationRouter({ service: 'api', pools, inFlight, pick, acquire });
 *   const dispatch = retryAttempts(hooks)(router.dispatch);
 *   dispatch({ path: '/', method: 'GET', headers: [], [ROUTE]: request }, writer);
 */
export class GenerationRouter {
  constructor(private readonly deps: RouterDeps) {}

  readonly dispatch = (options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean => {
    const request = (options as RoutedOptions)[ROUTE];
    request.extraHeaders = [];
    const backend = this.deps.pick(request);
    if (backend !== undefined) return this.#send(backend, options, handler);
    void this.deps.acquire().then((held) => {
      // A client that left while it was held sends nothing.
      if (held === undefined || request.finished) handler.onError?.(new NoGeneration('no generation became ready'));
      else this.#send(held, options, handler);
    });
    return true;
  };

  #send(backend: Backend, options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    const { deps } = this;
    const request = (options as RoutedOptions)[ROUTE];
    request.backend = backend;
    if (deps.debugHeaders?.()) request.extraHeaders.push('x-airlock-generation', String(backend.generation));
    deps.inFlight.add(backend.generation);
    if (requests.hasSubscribers) {
      // One id per request: a retry publishes it again with the generation it goes to now.
      request.id ??= ++nextRequestId;
      requests.publish({ service: deps.service, generation: backend.generation, id: request.id, forced: request.forced } satisfies ProxyRequest);
    }
    return deps.pools.get(backend).dispatch(options, new Attempt(handler, deps.inFlight, backend.generation));
  }
}

/** One attempt's exchange with a generation: passes everything on, and counts it done there once it is over. */
class Attempt extends Relay {
  #open = true;

  constructor(
    next: Dispatcher.DispatchHandler,
    private readonly inFlight: InFlight,
    private readonly generation: number,
  ) {
    super(next);
  }

  #done(): void {
    if (!this.#open) return;
    this.#open = false;
    this.inFlight.done(this.generation);
  }

  override onComplete(trailers: string[] | null): void {
    this.#done();
    super.onComplete(trailers);
  }

  override onError(error: Error): void {
    this.#done();
    super.onError(error);
  }
}
