import { chmodSync, mkdirSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { connect, type Socket } from 'node:net';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { AirlockError, fullCode } from '../errors.js';
import type { EventBus } from '../events.js';

/** What the control API steers (the daemon, seen from the socket; control knows nothing more of it). */
export interface ControlTarget {
  status(): readonly { readonly name: string }[];
  readonly configRejected: string | undefined;
  reload(names: readonly string[]): void;
  /** A rollout in progress steered by hand; an error (404: no such service, 409: no rollout) otherwise. */
  rollout(name: string, action: (typeof ROLLOUT_ACTIONS)[number]): Promise<{ status: 404 | 409; error: string } | undefined>;
}

/** What POST /rollout?service=NAME&action=… may ask. */
export const ROLLOUT_ACTIONS = ['promote', 'promote-full', 'abort', 'pause', 'resume'] as const;

/** More control connections than this at once are refused (each is an fd airlock needs elsewhere). */
export const MAX_CONTROL_CONNECTIONS = 256;
/** Event streams held open at once; more are refused with 503, so commands always have room. */
export const MAX_EVENT_STREAMS = 32;
/** Connections that have not finished a request yet: past this, the oldest is cut for the newcomer. */
const MAX_UNFINISHED = 32;
/** An /events client that leaves this much unread is cut: airlock never buffers for it without end. */
export const EVENTS_BUFFER_LIMIT = 1024 * 1024;

/** sun_path holds 108 bytes with its terminating NUL; Node truncates a longer path silently. */
const SOCKET_PATH_MAX = 107;

/**
 * Where the control socket of a project lives: .airlock/control.sock beside the config,
 * or, when that path is too long for a unix socket, a short one in the user's runtime
 * directory (or the temp directory) named by a hash of the project directory, so every
 * airlock command run there finds the same one.
 *
 * @example
 *   controlSocketPath('/home/me/shop'); // '/home/me/shop/.airlock/control.sock'
 */
export function controlSocketPath(baseDir: string): string {
  const path = `${baseDir}/.airlock/control.sock`;
  if (Buffer.byteLength(path) <= SOCKET_PATH_MAX) return path;
  const hash = createHash('sha256').update(baseDir).digest('hex').slice(0, 16);
  const dir = process.env.XDG_RUNTIME_DIR || tmpdir();
  return join(dir, `airlock-${process.getuid?.() ?? 0}-${hash}.sock`);
}

/** True when something answers on the socket (another airlock runs here). */
function inUse(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(path);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

function json(res: import('node:http').ServerResponse, status: number, body: unknown): void {
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/**
 * The control API: HTTP over a unix socket (mode 0600, so only this user can steer
 * airlock). GET /status, POST /reload?service=a&service=b, POST /rollout?service=a&action=promote
 * (promote-full, abort, pause, resume), GET /events (one JSON event
 * per line, as long as the connection stays open; ?service=a and ?type=t, each
 * repeatable, keep only those).
 *
 * @example
 *   const control = await startControl(controlSocketPath(baseDir), daemon, bus);
 *   ...
 *   await control.close();
 */
export async function startControl(path: string, daemon: ControlTarget, bus: EventBus): Promise<{ close(): Promise<void> }> {
  mkdirSync(dirname(path), { recursive: true });
  if (await inUse(path)) {
    throw new AirlockError('CONTROL_IN_USE', `another airlock already runs here (${path} answers)`);
  }
  rmSync(path, { force: true });
  const unfinished = new Set<Socket>();
  let streams = 0;
  // Headers must come within 5 s, checked every 500 ms (Node's default check runs every 30 s).
  const server: Server = createServer({ headersTimeout: 5_000, requestTimeout: 10_000, connectionsCheckingInterval: 500 }, (req, res) => {
    unfinished.delete(req.socket);
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://airlock');
    } catch {
      return json(res, 400, { error: `not a valid request target: ${JSON.stringify(req.url)}; try GET /status, POST /reload, POST /rollout, GET /events` });
    }
    if (req.method === 'GET' && url.pathname === '/status') return json(res, 200, { services: daemon.status(), configRejected: daemon.configRejected });
    if (req.method === 'POST' && url.pathname === '/reload') {
      const names = url.searchParams.getAll('service');
      const known = daemon.status().map((service) => service.name);
      const unknown = names.filter((name) => !known.includes(name));
      if (unknown.length > 0) return json(res, 404, { error: `no service named ${unknown.join(', ')}; defined: ${known.join(', ')}` });
      daemon.reload(names);
      return json(res, 202, { reloading: names.length > 0 ? names : known });
    }
    if (req.method === 'POST' && url.pathname === '/rollout') {
      const name = url.searchParams.get('service') ?? '';
      const action = url.searchParams.get('action') as (typeof ROLLOUT_ACTIONS)[number];
      if (!ROLLOUT_ACTIONS.includes(action)) return json(res, 400, { error: `action must be one of ${ROLLOUT_ACTIONS.join(', ')}, got ${JSON.stringify(action)}` });
      // Handled in the service's command order: answered once the rollout acted.
      void daemon.rollout(name, action).then(
        (refused) => {
          if (refused) return json(res, refused.status, { error: refused.error });
          json(res, 200, { service: name, rollout: (daemon.status().find((s) => s.name === name) as { rollout?: unknown } | undefined)?.rollout });
        },
        (error: unknown) => json(res, 500, { error: `rollout ${action} of ${name} failed: ${String(error)}` }),
      );
      return;
    }
    if (req.method === 'GET' && url.pathname === '/events') {
      if (streams >= MAX_EVENT_STREAMS) return json(res, 503, { error: `${streams} event streams are open, the most airlock keeps (commands keep their room): close one and subscribe again` });
      streams += 1;
      res.once('close', () => (streams -= 1));
      res.writeHead(200, { 'content-type': 'application/x-ndjson' });
      // Headers now, not with the first event: a client knows at once that it is subscribed.
      res.flushHeaders();
      // A stream without end: the request timeout is for requests, not for this.
      req.socket.setTimeout(0);
      // ?service=a&type=plugin.changed: only those (an app's plugin host asks for its own service's changes).
      const services = url.searchParams.getAll('service');
      const types = url.searchParams.getAll('type');
      const unsubscribe = bus.subscribe((event) => {
        if ((services.length > 0 && !services.includes(event.service)) || (types.length > 0 && !types.includes(event.type))) return;
        if (res.writableLength > EVENTS_BUFFER_LIMIT) {
          unsubscribe();
          res.destroy();
          return;
        }
        res.write(`${JSON.stringify({ time: new Date().toISOString(), ...event })}\n`);
      }, 'a control socket /events stream');
      res.once('close', unsubscribe);
      return;
    }
    json(res, 404, { error: `no such endpoint: ${req.method} ${url.pathname}; try GET /status, POST /reload, POST /rollout, GET /events` });
  });
  server.maxConnections = MAX_CONTROL_CONNECTIONS;
  // A connection that never finishes its request must not take a command's place: the
  // newest comer cuts the oldest such one (a status or reload sends its request at once).
  server.on('connection', (socket: Socket) => {
    unfinished.add(socket);
    socket.once('close', () => unfinished.delete(socket));
    if (unfinished.size > MAX_UNFINISHED) {
      const oldest = unfinished.values().next().value as Socket;
      unfinished.delete(oldest);
      oldest.destroy();
    }
  });
  // A client that sends garbage, or resets, costs its own connection only.
  server.on('clientError', (_error, socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => {
      server.off('error', reject);
      resolve();
    });
  });
  // After listen: an accept error (EMFILE) is reported, never thrown at airlock.
  server.on('error', (error) => bus.emit({ type: 'error', service: 'airlock', code: fullCode('INTERNAL'), message: `control socket: ${error.message}` }));
  chmodSync(path, 0o600);
  return {
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
        rmSync(path, { force: true });
      }),
  };
}
