import type { Dispatcher } from 'undici';
import type { ResponseInterceptor } from '../proxy/extensions.js';

type Headers = Record<string, string | string[] | undefined>;
type Controller = Parameters<NonNullable<Dispatcher.DispatchHandler['onResponseStart']>>[0];

/** A response header with which a page opts out of live reload. */
export const OPT_OUT_HEADER = 'x-airlock-live-reload';

const one = (value: string | string[] | undefined): string | undefined => (Array.isArray(value) ? value[0] : value);

/**
 * Whether a response is a page the script may be added to: HTML with a body, not
 * compressed (a gzip body cannot be appended to), and not opted out (`x-airlock-live-reload: off`).
 */
export function injectable(method: string, status: number, headers: Headers): boolean {
  if (method === 'HEAD' || status < 200 || status === 204 || status === 304) return false;
  if (!/^\s*text\/html\b/i.test(one(headers['content-type']) ?? '')) return false;
  const encoding = one(headers['content-encoding'])?.trim().toLowerCase();
  if (encoding !== undefined && encoding !== '' && encoding !== 'identity') return false;
  return one(headers[OPT_OUT_HEADER])?.trim().toLowerCase() !== 'off';
}

/** Passes a response on, with `snippet` appended to an injectable page (its length added to content-length). */
class AppendToPages implements Dispatcher.DispatchHandler {
  #append = false;

  constructor(
    private readonly next: Dispatcher.DispatchHandler,
    private readonly method: string,
    private readonly snippet: Buffer,
  ) {}

  onRequestStart(controller: Controller, context: unknown): void {
    this.next.onRequestStart?.(controller as never, context);
  }

  onRequestUpgrade(controller: Controller, status: number, headers: Headers, socket: never): void {
    this.next.onRequestUpgrade?.(controller as never, status, headers as never, socket);
  }

  onResponseStart(controller: Controller, status: number, headers: Headers, message?: string): void {
    this.#append = injectable(this.method, status, headers);
    let out = headers;
    if (this.#append) {
      const length = one(headers['content-length']);
      // Browsers parse a script after </html> into the body: appending needs no HTML parsing, and streams.
      if (length !== undefined) out = { ...headers, 'content-length': String(Number(length) + this.snippet.length) };
    }
    this.next.onResponseStart?.(controller as never, status, out as never, message as never);
  }

  onResponseData(controller: Controller, chunk: Buffer): void {
    this.next.onResponseData?.(controller as never, chunk);
  }

  onResponseEnd(controller: Controller, trailers: Headers): void {
    if (this.#append) this.next.onResponseData?.(controller as never, this.snippet);
    this.next.onResponseEnd?.(controller as never, trailers as never);
  }

  onResponseError(controller: Controller, error: Error): void {
    this.next.onResponseError?.(controller as never, error);
  }
}

/**
 * An interceptor that appends `snippet` to every HTML page the proxy forwards; every
 * other response (JSON, assets, the app's own server-sent events and WebSockets,
 * compressed pages) passes untouched.
 *
 * @example
 *   new ServiceRunner(plan, bus, { proxy: { interceptors: [appendToPages('<script src="/__airlock/live/client.js"></script>')] } });
 */
export function appendToPages(snippet: string): ResponseInterceptor {
  const bytes = Buffer.from(snippet);
  return (dispatch) => (options, handler) => dispatch(options, new AppendToPages(handler, String(options.method), bytes));
}
