import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
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

export function errorCode(error: unknown): string {
  const e = error as { code?: string; cause?: { code?: string } };
  return e.cause?.code ?? e.code ?? 'ERROR';
}

/** What one attempt sends: the method, the headers to forward, and whether the request has a body to stream. */
export interface Outgoing {
  readonly method: string;
  readonly headers: string[];
  readonly hasBody: boolean;
  /** Headers airlock adds to the response (x-airlock-generation, a rollout cookie), flat. */
  readonly extraHeaders?: readonly string[];
  /**
   * Hears of a response that is a stream (no content-length: server-sent events, a long
   * poll written in chunks), with how to end it cleanly (its last chunk, not a reset);
   * the function it returns is called once the response is over.
   */
  readonly onStream?: (endCleanly: () => void) => () => void;
}


/**
 * One attempt of a request through undici's dispatcher, streaming the response straight
 * into `res` with backpressure. Resolves 'done', 'aborted' (the client went away), or the
 * error (the retry policy decides what follows).
 *
 * @example
 *   const outcome = await forwardOnce(pool, req, res, { method: 'GET', headers: forwardHeaders(req), hasBody: false });
 */
export function forwardOnce(pool: Dispatcher, req: IncomingMessage, res: ServerResponse, { method, headers, hasBody, extraHeaders = [], onStream }: Outgoing): Promise<'done' | 'aborted' | Error> {
  return new Promise((resolve) => {
    let abortUpstream: ((reason?: Error) => void) | undefined;
    let settled = false;
    /** Ended by airlock (the generation drained): what the upstream still sends is dropped. */
    let endedHere = false;
    let forget: (() => void) | undefined;
    const settle = (value: 'done' | 'aborted' | Error) => {
      if (settled) return;
      settled = true;
      forget?.();
      res.off('close', onClose);
      resolve(value);
    };
    const endCleanly = () => {
      if (settled || res.writableEnded) return;
      endedHere = true;
      res.end();
      settle('done');
      abortUpstream?.(new Error('the generation drained'));
    };
    const onClose = () => {
      if (res.writableFinished) return;
      abortUpstream?.(new Error('client closed the connection'));
      settle('aborted');
    };
    res.once('close', onClose);
    pool.dispatch(
      { path: req.url ?? '/', method: method as never, headers, body: hasBody ? req : null },
      {
        onConnect: (abort) => {
          abortUpstream = abort;
        },
        onHeaders: (status, raw, resume) => {
          const { headers: out, hasLength } = responseHeaders(raw as unknown as Buffer[]);
          if (extraHeaders.length > 0) out.push(...extraHeaders);
          res.writeHead(status, out);
          res.on('drain', () => resume());
          if (onStream !== undefined && !hasLength && method !== 'HEAD' && status !== 204 && status !== 304) forget = onStream(endCleanly);
          return true;
        },
        onData: (chunk) => (endedHere ? true : res.write(chunk)),
        onComplete: () => {
          if (!endedHere) res.end();
          settle('done');
        },
        onError: (error) => settle(error),
      },
    );
  });
}

