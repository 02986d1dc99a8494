import { createReadStream, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join, resolve, sep } from 'node:path';

/**
 * `airlock release serve`: the embedded channel, a static HTTP server of a repository
 * directory (GET and HEAD of files under it, nothing else). It needs no trust of its own:
 * clients verify everything with TUF, so it only serves bytes.
 *
 * @example
 *   const server = await serveRepository('channel', '127.0.0.1', 8700);
 */
export function serveRepository(dir: string, host: string, port: number): Promise<Server> {
  const root = resolve(dir);
  const server = createServer((req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    let path: string;
    try {
      path = resolve(join(root, decodeURIComponent(new URL(req.url ?? '/', 'http://channel').pathname)));
    } catch {
      res.writeHead(400).end();
      return;
    }
    // Nothing outside the repository, whatever the URL says.
    const inside = path.startsWith(root + sep);
    const size = inside ? fileSize(path) : undefined;
    if (size === undefined) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    res.writeHead(200, { 'content-type': path.endsWith('.json') ? 'application/json' : 'application/octet-stream', 'content-length': size, 'cache-control': 'no-cache' });
    if (req.method === 'HEAD') res.end();
    else createReadStream(path).on('error', () => res.destroy()).pipe(res);
  });
  return new Promise((done, fail) => {
    server.once('error', fail);
    server.listen(port, host, () => {
      server.off('error', fail);
      done(server);
    });
  });
}

function fileSize(path: string): number | undefined {
  try {
    const stats = statSync(path);
    return stats.isFile() ? stats.size : undefined;
  } catch {
    return undefined;
  }
}
