import type { Dispatcher } from 'undici';
import type { Backend } from './backends.js';
import { NoGeneration, ROUTE, type ProxiedRequest, type RoutedOptions } from './router.js';
import { shouldRetry, wasSent } from './retry-policy.js';
import { Relay } from './relay.js';

export interface RetryHooks {
  readonly holdMs: number;
  /** Whether new requests still go to `backend`: then a replacement (or a restart) gets a moment before the retry. */
  serving(backend: Backend): boolean;
  /** Resolves at the next change of the active generation, or after `ms`. */
  nextChange(ms: number): Promise<void>;
  /** Every failed attempt, with whether it goes again (the proxy says it). */
  failed(request: ProxiedRequest, backend: Backend, error: Error, code: string, retrying: boolean): void;
}

export function errorCode(error: unknown): string {
  const e = error as { code?: string; cause?: { code?: string } };
  return e.cause?.code ?? e.code ?? 'ERROR';
}

/**
 * The proxy's retries as an undici interceptor (`(dispatch) => dispatch`): an attempt that
 * fails before any answer goes again through the same dispatch, routed afresh, when the
 * retry policy allows it (retry-policy.ts: never a request that may have killed its
 * backend, never once the client left or an answer began). Composed over the
 * GenerationRouter, whose handlers are undici's raw form.
 *
 * @example
 *   const dispatch = retryAttempts({ holdMs: 30_000, serving, nextChange, failed })(router.dispatch);
 */
export function retryAttempts(hooks: RetryHooks): Dispatcher.DispatcherComposeInterceptor {
  return (dispatch) => (options, handler) => dispatch(options, new RetryHandler(dispatch, options as RoutedOptions, handler, hooks));
}

class RetryHandler extends Relay {
  #sentFailures = 0;
  #unsentFailures = 0;

  constructor(
    private readonly dispatch: Dispatcher['dispatch'],
    private readonly options: RoutedOptions,
    next: Dispatcher.DispatchHandler,
    private readonly hooks: RetryHooks,
  ) {
    super(next);
  }

  override onError(error: Error): void {
    void this.#failed(error);
  }

  async #failed(error: Error): Promise<void> {
    const request = this.options[ROUTE];
    const backend = request.backend;
    // Over already (the client left: its abort comes back as this error), or no generation at all: nothing to retry.
    if (request.finished || backend === undefined || error instanceof NoGeneration) return super.onError(error);
    const { res } = request;
    const code = errorCode(error);
    const sent = wasSent(code);
    const failed = {
      method: request.method,
      hasBody: request.hasBody,
      code,
      attempt: sent ? ++this.#sentFailures : ++this.#unsentFailures,
      holdMs: this.hooks.holdMs,
      elapsedMs: performance.now() - request.started,
      responded: res.headersSent,
      clientGone: res.destroyed,
      backendAlive: true,
    };
    let retry = shouldRetry(failed);
    if (retry) {
      // The same generation failed it: give a replacement (or a restart) a moment first,
      // which is also how long a backend that just died takes to be seen dead.
      if (this.hooks.serving(backend)) await this.hooks.nextChange(Math.min(10 * failed.attempt, 100));
      retry = shouldRetry({ ...failed, clientGone: res.destroyed, backendAlive: !sent || (backend.alive?.() ?? true) });
    }
    this.hooks.failed(request, backend, error, code, retry);
    if (retry) this.dispatch(this.options, this);
    else super.onError(error);
  }
}
