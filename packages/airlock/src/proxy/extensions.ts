import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';

/**
 * A hook on the responses the proxy forwards: an undici dispatcher interceptor, composed
 * onto each generation's connection pool (`Pool.compose`). Live reload injects its
 * script in one; the proxy's request handler is never edited for such a feature.
 */
export type ResponseInterceptor = Dispatcher.DispatcherComposeInterceptor;

/** Requests airlock answers itself, under one reserved path prefix: they never reach the app. */
export interface OwnRoutes {
  /** e.g. /__airlock/ */
  readonly prefix: string;
  handle(req: IncomingMessage, res: ServerResponse): void;
  /** The proxy closes: end what these routes hold open (event streams), or it would wait on them for ever. */
  close?(): void;
}

/**
 * What a feature adds to a service's HTTP proxy: response interceptors, and routes of its
 * own. Given when the proxy is made (ServiceOptions.proxy).
 *
 * @example
 *   const live = new LiveReload(service, bus);
 *   new ServiceRunner(plan, bus, { proxy: live.extensions }); // { interceptors: [appendToPages(…)], routes: [{ prefix: '/__airlock/live/', … }] }
 */
export interface ProxyExtensions {
  readonly interceptors?: readonly ResponseInterceptor[];
  readonly routes?: readonly OwnRoutes[];
}
