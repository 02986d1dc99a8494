import type { LongLived } from './http-proxy.js';

/**
 * What airlock's process and a proxy worker process say to each other over the IPC
 * channel (proxy.workers). Every message a worker must act on in order travels the one
 * channel, so a worker sees a new active generation before it is asked to retire the old.
 */

/** A backend as data: alive() becomes the pid it is judged by. */
export interface WireBackend {
  readonly generation: number;
  readonly host: string;
  readonly port: number;
  readonly pid?: number;
}

/** The HTTP proxy (handoff: proxy) or the TCP one (handoff: tcp-proxy). */
export type ProxyKind = 'http' | 'tcp';

export type ToWorker =
  /** Sent with the shared listening socket as the handle; kind: which proxy the worker runs (handoff: proxy or tcp-proxy). */
  | { readonly type: 'serve'; readonly kind: ProxyKind; readonly service: string; readonly holdMs: number; readonly index: number; readonly debugHeaders: boolean }
  | { readonly type: 'active'; readonly backend: WireBackend | undefined }
  | { readonly type: 'unavailable'; readonly reason: string }
  | { readonly type: 'split'; readonly split: { readonly module: string; readonly data: unknown; readonly canary: WireBackend } | undefined }
  | { readonly type: 'debugHeaders'; readonly on: boolean }
  /** What a generation holds there that a drain waits for (answered with longLived). */
  | { readonly type: 'count'; readonly id: number; readonly generation: number }
  | { readonly type: 'retire'; readonly id: number; readonly generation: number; readonly drainMs: number }
  | { readonly type: 'quiesce'; readonly id: number; readonly ms: number }
  | { readonly type: 'close'; readonly id: number }
  /** Answered (done) once everything sent before it is in effect there: a barrier. */
  | { readonly type: 'sync'; readonly id: number };

export type FromWorker =
  | { readonly type: 'serving' }
  /** The answer to retire (drained), quiesce and close, by the id asked with. */
  | { readonly type: 'done'; readonly id: number; readonly drained?: boolean; readonly longLived?: LongLived }
  | { readonly type: 'error'; readonly message: string }
  | { readonly type: 'notice'; readonly message: string }
  /**
   * The worker's ProxyRequest and ProxyResponse records since the last batch, flat:
   * requests [generation, id, forced(0|1)]…, responses [generation, status, ms, flags, id]…
   * (flags: 1 forced, 2 client aborted; id -1 for none).
   */
  | { readonly type: 'records'; readonly requests: number[]; readonly responses: number[] };

export const REQUEST_FIELDS = 3;
export const RESPONSE_FIELDS = 5;
