/**
 * When the proxy may send a failed request again (measured here: retry only requests that
 * failed before any response header and are safe to repeat), and when it never may:
 *
 * - a request that never reached the app (connection refused) may go again, to the same
 *   or a replacement generation, as long as the hold time lasts;
 * - a request that was sent and failed before any answer goes again at most once, and
 *   only when it is safe to repeat (an idempotent method, no body) and the generation it
 *   went to is still alive: a `GET /die` that kills its backend must not be replayed into
 *   every new generation;
 * - nothing goes again once the client left or a response began.
 *
 * @example
 *   shouldRetry({ method: 'GET', hasBody: false, code: 'ECONNREFUSED', attempt: 1, elapsedMs: 3, holdMs: 30_000, responded: false, clientGone: false, backendAlive: true });
 *   // true
 */
export interface FailedAttempt {
  readonly method: string;
  readonly hasBody: boolean;
  /** The error code of the attempt (ECONNREFUSED, UND_ERR_SOCKET, ...). */
  readonly code: string;
  /** 1 for the first attempt. */
  readonly attempt: number;
  readonly elapsedMs: number;
  readonly holdMs: number;
  /** Response headers were already sent to the client. */
  readonly responded: boolean;
  readonly clientGone: boolean;
  /** The generation the attempt went to still runs (checked after a short wait). */
  readonly backendAlive: boolean;
}

/** Safe to send twice (RFC 9110 §9.2.2). */
export const IDEMPOTENT: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);
/** Errors that mean the request never reached the application. */
export const NOT_SENT: ReadonlySet<string> = new Set(['ECONNREFUSED', 'UND_ERR_CONNECT_TIMEOUT']);
/** Attempts of a request that was never sent; they are spread over the hold time. */
export const MAX_UNSENT_ATTEMPTS = 20;
/** Attempts of a request that reached an app and failed there: the first and one more. */
export const MAX_SENT_ATTEMPTS = 2;

/** True when the request reached the app before it failed, so the app may have acted on it. */
export function wasSent(code: string): boolean {
  return !NOT_SENT.has(code);
}

export function shouldRetry(failed: FailedAttempt): boolean {
  if (failed.responded || failed.clientGone || failed.elapsedMs >= failed.holdMs) return false;
  if (!wasSent(failed.code)) return failed.attempt < MAX_UNSENT_ATTEMPTS;
  return failed.attempt < MAX_SENT_ATTEMPTS && IDEMPOTENT.has(failed.method) && !failed.hasBody && failed.backendAlive;
}
