import type { Server } from 'node:net';
import { AirlockError } from '../errors.js';
import { heldBy } from '../supervise/port-owner.js';

/**
 * Listens and resolves once bound, or rejects with LISTEN_FAILED naming the address (in
 * use, a host that is not this machine's). After that, an error on the listening socket
 * (EMFILE on accept) goes to `onError`: it never reaches airlock as an unhandled event.
 */
export function listenOn(server: Server, host: string, port: number, onError: (message: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const fail = (error: NodeJS.ErrnoException) =>
      reject(new AirlockError('LISTEN_FAILED', `cannot listen on ${host}:${port}: ${error.code ?? 'error'}: ${error.message}${error.code === 'EADDRINUSE' ? heldBy(port) : ''}`));
    server.once('error', fail);
    server.listen({ host, port, backlog: 4096 }, () => {
      server.off('error', fail);
      server.on('error', (error) => onError(`listener ${host}:${port}: ${error.message}`));
      resolve();
    });
  });
}

/**
 * The port a server is bound to (the one the kernel chose for port 0), or `fallback` while it is not listening.
 *
 * @example
 *   server.listen(0, '127.0.0.1', () => console.log(boundPort(server)));
 */
export function boundPort(server: Server, fallback = 0): number {
  const address = server.address();
  return typeof address === 'object' && address ? address.port : fallback;
}
