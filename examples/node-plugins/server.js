// node-plugins: an HTTP service that never restarts for a plugin change. It hosts the
// plugins in ./plugins, each in its own worker thread; editing one swaps it in place
// (the new version loads, initialises and passes health() before it takes calls; the old
// one finishes its calls and stops). Run it alone (`npm start`) or under airlock.
import { createServer } from 'node:http';
import { fileURLToPath } from 'node:url';
import { PluginHost } from '@airlock/runtime/plugins';

const host = new PluginHost({ dir: fileURLToPath(new URL('./plugins', import.meta.url)) });
host.on('event', (e) => console.log(`plugin ${e.name} ${e.version ?? ''} g${e.generation}: ${e.state}${e.error ? ` (${e.error})` : ''}${e.leftovers ? ` left: ${e.leftovers.join('; ')}` : ''}`));
host.on('log', (l) => console.log(`[${l.name}] ${l.line}`));
await host.start();
// Under airlock dev, airlock watches ./plugins and tells the host; alone, the host watches it.
console.log(`plugin changes: ${host.watching === 'airlock' ? 'told by airlock' : 'watched by this host'}`);

const json = (res, status, body) => {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
};

const server = createServer(async (req, res) => {
  const url = new URL(req.url ?? '/', 'http://localhost');
  if (url.pathname === '/healthz') return res.end('ok\n');
  if (url.pathname === '/plugins') return json(res, 200, host.plugins());
  const call = /^\/call\/([^/]+)\/([^/]+)$/.exec(url.pathname);
  if (call === null) return json(res, 404, { error: 'try GET /plugins or GET /call/<plugin>/<export>?arg=<text>' });
  const [, plugin, fn] = call.map(decodeURIComponent);
  const args = url.searchParams.getAll('arg');
  try {
    json(res, 200, { result: await host.call(plugin, fn, ...args) });
  } catch (error) {
    const known = host.plugins().some((p) => p.name === plugin);
    json(res, known ? 502 : 404, { error: error.message });
  }
});
server.listen(Number(process.env.PORT ?? 3002), '127.0.0.1', () => console.log(`serving on ${server.address().port}`));
const stop = async () => {
  server.close();
  await host.close();
  process.exit(0);
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
