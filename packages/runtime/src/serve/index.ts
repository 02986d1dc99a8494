import { createServer, type Server } from 'node:http';
import { Server as NetServer, Socket } from 'node:net';

/**
 * Zero-downtime serving for Node's http.Server under airlock (any handoff) and without it.
 *
 * @example
 *   import { createServer } from 'node:http';
 *   import { serve } from '@airlock/runtime/serve';
 *   const server = createServer((req, res) => res.end('hello'));
 *   await serve(server, { port: 3000 }); // inherited socket, gate protocol, gentle drain on SIGTERM
 */
export interface ServeOptions {
  /** Port to use when $PORT is not set (default 3000). */
  readonly port?: number;
  /** Host for a listener of its own (default 127.0.0.1). */
  readonly host?: string;
  /**
   * How long open connections keep being answered (with Connection: close) after a stop
   * signal. Default: $AIRLOCK_DRAIN_GRACE_MS (airlock shortens it for the restart handoff), else 500 ms.
   */
  readonly graceMs?: number;
  /** How long requests in flight may take after that before their connections are cut. Default 25 s. */
  readonly timeoutMs?: number;
  /** Exit the process once drained (default true: a SIGTERM handler stops Node's own exit). */
  readonly exitAfterDrain?: boolean;
  /** Drain on SIGTERM and SIGINT (default true); false leaves it to `drain()`. */
  readonly signals?: boolean;
  /** For tests: the environment to read (default process.env). */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

export interface Serving {
  /** 'inherited' (airlock passed the socket) or 'own' (listening on host:port). */
  readonly mode: 'inherited' | 'own';
  /** Starts the gentle drain now (what SIGTERM does). Resolves once the server is closed. */
  drain(): Promise<void>;
}

function listenOn(server: Server, target: { fd: number } | { port: number; host: string }): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(target, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** Serves the private probe listener (fd 4) with the same handlers, says hello, waits for "go". */
async function gate(server: Server, probeFd: number, gateFd: number): Promise<Server> {
  const probe = createServer((req, res) => server.emit('request', req, res));
  await listenOn(probe, { fd: probeFd });
  const channel = new Socket({ fd: gateFd, readable: true, writable: true });
  channel.write('hello\n');
  await new Promise<void>((resolve) => {
    let buffered = '';
    const done = () => {
      channel.destroy();
      resolve();
    };
    channel.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      if (buffered.split('\n').includes('go')) done();
    });
    // airlock went away: nothing will open the gate, and nothing should wait for it.
    channel.once('end', done);
    channel.once('error', done);
  });
  return probe;
}

/**
 * Listens the way airlock expects and drains gently on SIGTERM/SIGINT: answer open
 * connections with Connection: close for a short grace, then close the listener and the
 * idle connections, and cut what is still open after the timeout.
 */
export async function serve(server: Server, options: ServeOptions = {}): Promise<Serving> {
  const env = options.env ?? process.env;
  const inherited = env.LISTEN_FDS === '1' && (env.LISTEN_PID === undefined || env.LISTEN_PID === String(process.pid));
  let probe: Server | undefined;
  if (inherited) {
    if (env.AIRLOCK_PROBE_FD && env.AIRLOCK_GATE_FD) probe = await gate(server, Number(env.AIRLOCK_PROBE_FD), Number(env.AIRLOCK_GATE_FD));
    await listenOn(server, { fd: 3 });
  } else {
    // PORT is what airlock (or any platform) assigned: it wins over the app's own default.
    const port = env.PORT ? Number(env.PORT) : (options.port ?? 3000);
    await listenOn(server, { port, host: options.host ?? '127.0.0.1' });
  }

  let draining: Promise<void> | undefined;
  const drain = () =>
    (draining ??= (async () => {
      server.prependListener('request', (_req, res) => res.setHeader('connection', 'close'));
      // Stop accepting at once, but not the way http.Server#close does, which also closes
      // idle keep-alive connections and fails requests clients are sending on them now.
      const closed = new Promise<void>((resolve) => NetServer.prototype.close.call(server, () => resolve()));
      probe?.close();
      const envGrace = Number(env.AIRLOCK_DRAIN_GRACE_MS);
      await new Promise((r) => setTimeout(r, options.graceMs ?? (Number.isFinite(envGrace) && envGrace >= 0 && env.AIRLOCK_DRAIN_GRACE_MS ? envGrace : 500)));
      server.closeIdleConnections();
      const timer = setTimeout(() => server.closeAllConnections(), options.timeoutMs ?? 25_000);
      await closed;
      clearTimeout(timer);
    })());
  const onSignal = () => {
    void drain().then(() => {
      if (options.exitAfterDrain ?? true) process.exit(0);
    });
  };
  if (options.signals ?? true) {
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
  }
  return { mode: inherited ? 'inherited' : 'own', drain };
}
