import type { Server } from 'node:net';

/** Listens and resolves once bound, or rejects with the bind error (address in use, ...). */
export function listenOn(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port, backlog: 4096 }, () => {
      server.off('error', reject);
      resolve();
    });
  });
}
