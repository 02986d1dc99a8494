// node-hello: an HTTP server on $PORT; airlock restarts it when a file changes.
import { createServer } from 'node:http';

const greeting = 'hello from node-hello';
const port = Number(process.env.PORT ?? 3000);

const server = createServer((req, res) => {
  res.end(`${greeting} (generation ${process.env.AIRLOCK_GENERATION ?? '-'})\n`);
});
server.listen(port, '127.0.0.1', () => console.log(`listening on 127.0.0.1:${port}`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
