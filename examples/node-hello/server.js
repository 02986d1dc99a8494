// node-hello: an HTTP server that says which generation answered. It uses
// @airlock/runtime's serve(), so every handoff works: the socket airlock passes (fd,
// restart) or $PORT (proxy), and a gentle drain on SIGTERM.
import { createServer } from 'node:http';
import { serve } from '@airlock/runtime/serve';

const greeting = 'hello from node-hello';

const server = createServer((req, res) => {
  if (req.url === '/healthz') return res.end('ok\n');
  res.end(`${greeting} (generation ${process.env.AIRLOCK_GENERATION ?? '-'})\n`);
});
const { mode } = await serve(server, { port: 3000 });
console.log(`serving (${mode} socket)`);
