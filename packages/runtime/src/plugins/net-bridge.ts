import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** One granted connection as the plugin's side sees it: listen on host:port, carry to the unix socket at `path`. */
export interface Bridge {
  readonly host: string;
  readonly port: number;
  readonly path: string;
}

/** Joins two sockets both ways; either end closing or failing ends both. */
function join2(a: Socket, b: Socket): void {
  a.pipe(b);
  b.pipe(a);
  const end = () => {
    a.destroy();
    b.destroy();
  };
  a.on('error', end).on('close', end);
  b.on('error', end).on('close', end);
}

/**
 * The host's side of a sandboxed plugin's granted connections. The plugin's network
 * namespace has only its own loopback, so each grant (`connect:127.0.0.1:6379`) becomes a
 * unix socket in a directory mounted into the sandbox; what connects to it is carried to
 * the granted address on the host, and nothing else leaves.
 *
 * @example
 *   const bridges = await openBridges([{ host: '127.0.0.1', port: 6379 }]);
 *   // AIRLOCK_PLUGIN_BRIDGES=JSON.stringify(bridges.list), mount bridges.dir
 *   await bridges.close();
 */
export async function openBridges(grants: readonly { host: string; port: number }[]): Promise<{ dir: string; list: Bridge[]; close(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'airlock-plugin-net-'));
  const servers: Server[] = [];
  const sockets = new Set<Socket>();
  const list: Bridge[] = [];
  for (const [i, grant] of grants.entries()) {
    const path = join(dir, `${i}.sock`);
    const server = createServer((inside) => {
      const outside = connect({ host: grant.host, port: grant.port });
      sockets.add(inside).add(outside);
      inside.on('close', () => sockets.delete(inside));
      outside.on('close', () => sockets.delete(outside));
      join2(inside, outside);
    });
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(path, () => resolve()));
    servers.push(server);
    list.push({ ...grant, path });
  }
  return {
    dir,
    list,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * The plugin's side, run by its process before any plugin code: listens on each granted
 * address inside its namespace and carries connections to the host's unix socket.
 */
export async function listenBridges(list: readonly Bridge[]): Promise<void> {
  for (const bridge of list) {
    const server = createServer((socket) => join2(socket, connect(bridge.path)));
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(bridge.port, bridge.host, () => resolve()));
    // The plugin's own work keeps its process alive, not these.
    server.unref();
  }
}
