import type { IncomingMessage } from 'node:http';
import type { Dispatcher } from 'undici';
import type { ProxiedRequest } from './router.js';
import { FORCE_HEADER, FORCE_TOKEN_HEADER } from './split.js';

/** Headers that describe one connection, not the message: never forwarded (RFC 9110 §7.6.1). */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'expect']);

/**
 * The request's headers as a flat [name, value, ...] list, minus hop-by-hop ones, plus
 * X-Forwarded-*. Flat lists go to undici and back to Node without building objects.
 */
export function forwardHeaders(req: IncomingMessage): string[] {
  const raw = req.rawHeaders;
  const connection = req.headers.connection?.toLowerCase();
  const out: string[] = [];
  let forwardedFor: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    const lower = name.toLowerCase();
    // The rollout's force headers are for airlock alone: the app never sees them.
    if (HOP_BY_HOP.has(lower) || lower === FORCE_HEADER || lower === FORCE_TOKEN_HEADER || (connection !== undefined && connection.includes(lower))) continue;
    if (lower === 'x-forwarded-for') {
      forwardedFor = raw[i + 1];
      continue;
    }
    out.push(name, raw[i + 1] as string);
  }
  const remote = req.socket.remoteAddress ?? '';
  out.push('x-forwarded-for', forwardedFor ? `${forwardedFor}, ${remote}` : remote, 'x-forwarded-proto', 'http');
  if (req.headers.host) out.push('x-forwarded-host', req.headers.host);
  return out;
}

/**
 * A response's raw headers (Buffers from undici) as a flat list for writeHead, minus
 * hop-by-hop ones, and whether they give its length (without one, it is a stream that
 * ends when the server says): one pass, on every response.
 */
export function responseHeaders(raw: Buffer[]): { headers: string[]; hasLength: boolean } {
  const headers: string[] = [];
  let hasLength = false;
  for (let i = 0; i < raw.length; i += 2) {
    const name = (raw[i] as Buffer).toString('latin1');
    const lower = name.toLowerCase();
    if (lower === 'content-length') hasLength = true;
    if (!HOP_BY_HOP.has(lower)) headers.push(name, (raw[i + 1] as Buffer).toString('latin1'));
  }
  return { headers, hasLength };
}

/** How a generation's streaming responses register with it: given how to end one cleanly, returns how to forget it. */
export type StreamRegistrar = (endCleanly: () => void) => () => void;

/** How a proxied request ended: answered, the client left first, or the error of its last attempt. */
export type Outcome = 'done' | 'aborted' | Error;

/**
 * The end of the proxy's dispatch chain: streams the answer of whichever attempt gets one
 * straight into the client's response, with backpressure, and says once how the request
 * ended. A response without a length (server-sent events, a chunked long poll) is
 * registered with its generation, so a drain can end it with its last chunk, not a reset.
 *
 * @example
 *   dispatch({ path: '/', method: 'GET', headers, [ROUTE]: request }, new ResponseWriter(request, streamsOf, (outcome) => …));
 */
export class ResponseWriter implements Dispatcher.DispatchHandler {
  #abort: ((reason?: Error) => void) | undefined;
  /** Ended by airlock (the generation drained): what the upstream still sends is dropped. */
  #endedHere = false;
  #forget: (() => void) | undefined;

  constructor(
    private readonly request: ProxiedRequest,
    private readonly streamsOf: (generation: number) => StreamRegistrar,
    private readonly finish: (outcome: Outcome) => void,
  ) {
    request.res.once('close', this.#onClose);
  }

  readonly #onClose = (): void => {
    if (this.request.res.writableFinished) return;
    // Over before the abort: its error coming back is not a failed attempt.
    this.#settle('aborted');
    this.#abort?.(new Error('client closed the connection'));
  };

  readonly #endCleanly = (): void => {
    const { res } = this.request;
    if (this.request.finished || res.writableEnded) return;
    this.#endedHere = true;
    res.end();
    this.#settle('done');
    this.#abort?.(new Error('the generation drained'));
  };

  #settle(outcome: Outcome): void {
    if (this.request.finished) return;
    this.request.finished = true;
    this.#forget?.();
    this.request.res.off('close', this.#onClose);
    this.finish(outcome);
  }

  onConnect(abort: (reason?: Error) => void): void {
    this.#abort = abort;
  }

  onHeaders(status: number, raw: Buffer[], resume: () => void): boolean {
    const { res, extraHeaders, method, backend } = this.request;
    const { headers, hasLength } = responseHeaders(raw);
    if (extraHeaders.length > 0) headers.push(...extraHeaders);
    res.writeHead(status, headers);
    res.on('drain', resume);
    if (backend !== undefined && !hasLength && method !== 'HEAD' && status !== 204 && status !== 304) this.#forget = this.streamsOf(backend.generation)(this.#endCleanly);
    return true;
  }

  onData(chunk: Buffer): boolean {
    return this.#endedHere ? true : this.request.res.write(chunk);
  }

  onComplete(): void {
    if (!this.#endedHere) this.request.res.end();
    this.#settle('done');
  }

  onError(error: Error): void {
    this.#settle(error);
  }
}
