/**
 * Runs as a short-lived child of airlock: binds and listens on the address in argv, then
 * sends the raw socket handle back over the IPC channel and exits. airlock receives it as
 * a bare handle (Node's "net.Native" conversion), which it never listens on itself, so
 * it holds the socket without accepting from it, and hands the fd to every generation.
 */
import { createServer } from 'node:net';

const [host, portText] = process.argv.slice(2);
const server = createServer();
server.once('error', (error: NodeJS.ErrnoException) => {
  process.send?.({ error: `${error.code ?? 'error'}: ${error.message}` }, () => process.exit(1));
});
server.listen({ host, port: Number(portText), backlog: 4096, exclusive: true }, () => {
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  // The handle is internal to net.Server; sending it (not the server) keeps it unlistened on the other side.
  const handle = (server as unknown as { _handle: unknown })._handle;
  process.send?.({ port }, handle as never, () => process.exit(0));
});
