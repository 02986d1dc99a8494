import type { Duplex } from 'node:stream';

/** Node's http parser limit on a request's headers (--max-http-header-size), which the proxy keeps. */
const HEADER_LIMIT_KIB = 16;

/**
 * Answers a request the proxy's HTTP parser refused, as Node and nginx do, instead of
 * closing the connection without a word: 431 for headers over the limit (the app behind
 * it would have said the same), 400 for anything it cannot parse; nothing once the
 * connection is gone or a response began.
 *
 * @example
 *   server.on('clientError', (error, socket) => answerClientError(error, socket));
 */
export function answerClientError(error: Error & { code?: string }, socket: Duplex): void {
  if (error.code === 'ECONNRESET' || !socket.writable || (socket as Duplex & { bytesWritten?: number }).bytesWritten) {
    socket.destroy();
    return;
  }
  const [status, body] =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? ['431 Request Header Fields Too Large', `request headers are larger than ${HEADER_LIMIT_KIB} KiB, the limit: send fewer or smaller headers (cookies)\n`]
      : ['400 Bad Request', `the request could not be parsed as HTTP/1.1 (${error.code ?? error.message})\n`];
  socket.end(`HTTP/1.1 ${status}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}
