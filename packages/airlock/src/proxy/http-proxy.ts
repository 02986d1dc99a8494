import { channel } from 'node:diagnostics_channel';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, type Server as NetServer, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { boundPort, listenOn } from './listen.js';
import { BackendSwitch, InFlight, type Backend } from './backends.js';
import { Tunnels } from './tunnels.js';
import { forwardHeaders, ResponseWriter, type Outcome, type StreamRegistrar } from './forward.js';
import { GenerationRouter, NoGeneration, ROUTE, type ProxiedRequest, type RoutedOptions } from './router.js';
import { errorCode, retryAttempts } from './retry-interceptor.js';
import { loadUndici, UpstreamPools } from './pools.js';
import type { ProxyExtensions } from './extensions.js';
import { FORCE_HEADER, FORCE_TOKEN_HEADER, type TrafficSplit } from './split.js';
import { answerClientError } from './client-error.js';

/** Published once per answered request, for metrics (node:diagnostics_channel; free without subscribers). */
export const PROXY_RESPONSE_CHANNEL = 'airlock:proxy:response';

/** "1 WebSocket", "2 WebSockets", "" for none. */
function plural(n: number, what: string): string {
  return n === 0 ? '' : `${n} ${what}${n === 1 ? '' : 's'}`;
}
export interface ProxyResponse {
  readonly service: string;
  readonly generation: number;
  readonly status: number;
  readonly ms: number;
  /** A rollout side forced by the request (operator-enabled): not a real user's answer. */
  readonly forced?: boolean;
  /** The client went away before its answer was complete (Envoy's DC): not the generation's failure. */
  readonly clientAborted?: boolean;
  /** The id of its ProxyRequest (undefined when none was published). */
  readonly id?: number;
}
const responses = channel(PROXY_RESPONSE_CHANNEL);

export { PROXY_REQUEST_CHANNEL, startRequestIdsAt, type ProxyRequest } from './router.js';

/** Long-lived connections of one generation: WebSockets, streaming responses, other upgrades. */
export interface LongLived {
  readonly websockets: number;
  readonly streams: number;
  readonly others: number;
}

/** How many long-lived connections a retiring generation holds, with how to shorten the wait; undefined for none. */
export function drainingNotice(generation: number, { websockets, streams, others }: LongLived, drainMs: number): string | undefined {
  const parts = [plural(websockets, 'WebSocket'), plural(streams, 'streaming response'), plural(others, 'other upgraded connection')].filter((part) => part !== '');
  if (parts.length === 0) return undefined;
  const seconds = drainMs >= 1_000 ? `${drainMs / 1_000} s` : `${drainMs} ms`;
  return `g${generation} is draining ${parts.join(' and ')}; they end cleanly within stop.drain (${seconds}; WebSockets get a close frame, 1001 going away). While developing, shorten it: stop: { drain: 2s }`;
}

export interface HttpProxyOptions {
  readonly service: string;
  readonly host: string;
  readonly port: number;
  readonly holdMs: number;
  /** Called for every upstream failure: the proxy never crashes on one. */
  readonly onError: (message: string) => void;
  /** Whether responses carry x-airlock-generation (rollout.debugHeaders; read per request, so an edit applies at once). */
  readonly debugHeaders?: () => boolean;
  /** Said at the default verbosity: long-lived connections a retiring generation is draining. */
  readonly onNotice?: (message: string) => void;
  /** Response interceptors and routes of airlock's own (live reload): see ProxyExtensions. */
  readonly extensions?: ProxyExtensions;
}

/**
 * The `proxy` handoff's front door: HTTP/1.1 (keep-alive, streamed bodies, WebSocket
 * upgrades) to whichever generation is active. Switching is one assignment; requests
 * already on the old generation finish there; while none is ready, requests wait.
 *
 * @example
 *   const proxy = new HttpProxy({ service: 'api', host: '127.0.0.1', port: 8080, holdMs: 30_000, onError: console.error });
 *   await proxy.listen();
 *   proxy.setActive({ generation: 2, host: '127.0.0.1', port: 41234 });
 *   await proxy.retire(1, 30_000); // once generation 1 has nothing in flight
 */
export class HttpProxy {
  readonly #server: Server;
  /** The socket connections arrive on: the server's own, or one shared with other proxy workers (serve()). */
  #listener: NetServer;
  readonly #switch: BackendSwitch;
  readonly #inFlight = new InFlight();
  readonly #pools: UpstreamPools;
  readonly #tunnels = new Tunnels(this.#inFlight);
  /** Streaming responses in flight per generation, each with how to end it cleanly. */
  readonly #streams = new Map<number, Set<() => void>>();
  /** Per generation, the one function its streaming responses register with (not a closure per request). */
  readonly #registrars = new Map<number, (end: () => void) => () => void>();
  #split: TrafficSplit | undefined;
  /** Each request's way to a generation: the retry interceptor over the router (undici's interceptor shape). */
  readonly #dispatch: (options: RoutedOptions, handler: ResponseWriter) => boolean;
  readonly #streamsOfGeneration = (generation: number) => this.#streamsOf(generation);
  /** airlock is stopping: every answer from now on closes its connection. */
  #closing = false;

  constructor(private readonly options: HttpProxyOptions) {
    this.#switch = new BackendSwitch(options.holdMs);
    this.#pools = new UpstreamPools(options.extensions?.interceptors);
    // requestTimeout 0: long polls and slow uploads are the application's business.
    this.#server = createServer({ keepAliveTimeout: 5_000, requestTimeout: 0 }, (req, res) => this.#handle(req, res));
    this.#server.on('upgrade', (req, socket, head) => void this.#upgrade(req, socket, head));
    this.#server.on('clientError', (error, socket) => answerClientError(error, socket));
    this.#listener = this.#server;
    const router = new GenerationRouter({
      service: options.service,
      pools: this.#pools,
      inFlight: this.#inFlight,
      pick: (request) => this.#pick(request),
      acquire: () => this.#switch.acquire(),
      debugHeaders: options.debugHeaders,
    });
    const retry = retryAttempts({
      holdMs: options.holdMs,
      serving: (backend) => this.#switch.active?.generation === backend.generation || this.#split?.canary === backend,
      nextChange: (ms) => this.#switch.nextChange(ms),
      failed: ({ method, req }, backend, error, code, retrying) => options.onError(`${method} ${req.url} → g${backend.generation}: ${code} ${error.message}${retrying ? ' (retrying)' : ''}`),
    });
    this.#dispatch = retry(router.dispatch);
  }

  /**
   * Serves the connections another process's listening socket hands this one (a proxy
   * worker: the kernel gives each accepted connection to one of the processes sharing it).
   */
  async serve(shared: NetServer): Promise<void> {
    await loadUndici();
    this.#listener = shared;
    shared.on('connection', (socket: Socket) => this.#server.emit('connection', socket));
    shared.on('error', (error) => this.options.onError(`shared listener: ${error.message}`));
  }

  /** The listening socket (after listen()), to share with proxy workers. */
  get listener(): NetServer {
    return this.#listener;
  }

  async listen(): Promise<void> {
    await loadUndici();
    return listenOn(this.#server, this.options.host, this.options.port, this.options.onError);
  }

  get address(): { host: string; port: number } {
    return { host: this.options.host, port: boundPort(this.#server, this.options.port) };
  }

  setActive(backend: Backend | undefined): void {
    this.#switch.set(backend);
  }

  /** A crash loop: answer (or close) at once with the reason instead of holding. */
  setUnavailable(reason: string): void {
    this.#switch.setUnavailable(reason);
  }

  get active(): Backend | undefined {
    return this.#switch.active;
  }

  /** A rollout: each request goes to the canary or the active (stable) backend as the split chooses; undefined ends it. */
  setSplit(split: TrafficSplit | undefined): void {
    this.#split = split;
  }

  /** The backend for one request now: the split's choice while one is set, else the active one; undefined: wait for one (acquire). */
  #pick(request: Pick<ProxiedRequest, 'req' | 'extraHeaders' | 'forced'>): Backend | undefined {
    const split = this.#split;
    if (split !== undefined) {
      const choice = split.choose(request.req);
      if (choice.setCookie !== undefined) request.extraHeaders.push('set-cookie', choice.setCookie);
      request.forced = choice.forced === true;
      if (choice.canary) return split.canary;
    }
    return this.#switch.active;
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    // Connection: close, and the socket ends after this answer: the client opens no more work here.
    if (this.#closing) res.shouldKeepAlive = false;
    const own = this.options.extensions?.routes?.find((routes) => req.url?.startsWith(routes.prefix));
    if (own !== undefined) return own.handle(req, res);
    const method = req.method ?? 'GET';
    const hasBody = req.headers['content-length'] !== undefined ? req.headers['content-length'] !== '0' : req.headers['transfer-encoding'] !== undefined;
    const request: ProxiedRequest = { req, res, method, hasBody, started: performance.now(), backend: undefined, extraHeaders: [], forced: false, id: undefined, finished: false };
    const writer = new ResponseWriter(request, this.#streamsOfGeneration, (outcome) => this.#ended(request, outcome));
    this.#dispatch({ path: req.url ?? '/', method: method as never, headers: forwardHeaders(req), body: hasBody ? req : null, [ROUTE]: request }, writer);
  }

  /** A request's end: published for the figures, and a failure answered (502, or 503 with a crash loop's reason). */
  #ended(request: ProxiedRequest, outcome: Outcome): void {
    const { res, backend } = request;
    if (outcome instanceof NoGeneration) {
      const down = this.#switch.unavailable;
      if (down !== undefined) this.#reply(res, 503, `${down}\n`);
      else this.#reply(res, 502, `no generation of ${this.options.service} became ready within ${this.options.holdMs} ms\n`);
      return;
    }
    if (backend === undefined) return; // the client left while it was held
    if (outcome === 'done') return this.#answered(backend.generation, res.statusCode, request);
    if (outcome === 'aborted') return this.#answered(backend.generation, 499, request, true);
    // The client left first: its connection's end is not the generation's failure.
    const clientLeft = res.destroyed;
    if (res.headersSent || res.destroyed) res.destroy();
    else this.#reply(res, 502, `upstream g${backend.generation} failed: ${errorCode(outcome)}\n`);
    this.#answered(backend.generation, clientLeft ? 499 : 502, request, clientLeft);
  }

  #answered(generation: number, status: number, { started, forced, id }: ProxiedRequest, clientAborted = false): void {
    if (!responses.hasSubscribers) return;
    const response: ProxyResponse = { service: this.options.service, generation, status, ms: performance.now() - started, ...(forced ? { forced } : {}), ...(clientAborted ? { clientAborted } : {}), ...(id === undefined ? {} : { id }) };
    responses.publish(response);
  }

  #reply(res: ServerResponse, status: number, text: string): void {
    if (res.headersSent) return void res.destroy();
    res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }

  /** WebSocket (or any Upgrade): a raw tunnel to the active generation, kept until either side closes. */
  async #upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    // The client may reset while it waits for a backend (up to proxy.hold).
    socket.on('error', () => socket.destroy());
    const backend = this.#pick({ req, extraHeaders: [], forced: false }) ?? (await this.#switch.acquire());
    if (backend === undefined || socket.destroyed) {
      socket.end('HTTP/1.1 502 Bad Gateway\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
      return;
    }
    const upstream: Socket = connect({ host: backend.host, port: backend.port });
    this.#tunnels.join(backend.generation, socket, upstream, {
      websocket: req.headers.upgrade?.toLowerCase() === 'websocket',
      onConnect: () => {
        const lines = [`${req.method} ${req.url} HTTP/1.1`];
        for (let i = 0; i < req.rawHeaders.length; i += 2) {
          const lower = (req.rawHeaders[i] as string).toLowerCase();
          if (lower !== FORCE_HEADER && lower !== FORCE_TOKEN_HEADER) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
        }
        lines.push(`x-forwarded-for: ${req.socket.remoteAddress ?? ''}`, 'x-forwarded-proto: http');
        upstream.write(`${lines.join('\r\n')}\r\n\r\n`);
        if (head.length > 0) upstream.write(head);
      },
      onError: (error) => {
        this.options.onError(`upgrade ${req.url} → g${backend.generation}: ${error.message}`);
        if (!upstream.readable) socket.end('HTTP/1.1 502 Bad Gateway\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
      },
    });
  }

  /**
   * Retires a generation that no longer receives new work: waits until its requests and
   * tunnels are done (or `drainMs` passed), then closes the proxy's connections to it, so
   * nothing is in flight on them when the generation gets its stop signal.
   */
  async retire(generation: number, drainMs: number, { quiet = false }: { quiet?: boolean } = {}): Promise<boolean> {
    // Proxy workers say it once for all of them (ProxyWorkers.retire).
    if (!quiet) {
      const notice = drainingNotice(generation, this.longLived(generation), drainMs);
      if (notice !== undefined) this.options.onNotice?.(notice);
    }
    const drained = await this.#inFlight.idle(generation, drainMs);
    // Past stop.drain, each long-lived connection ends as its protocol ends: a stream with
    // its last chunk, a WebSocket with a close frame (1001), never a bare reset.
    for (const end of [...(this.#streams.get(generation) ?? [])]) end();
    this.#streams.delete(generation);
    this.#registrars.delete(generation);
    this.#tunnels.cut(generation);
    await this.#pools.retire(generation, drained);
    return drained;
  }

  /** How a streaming response of `generation` says how it can be ended at the end of a drain. */
  #streamsOf(generation: number): StreamRegistrar {
    let registrar = this.#registrars.get(generation);
    if (registrar === undefined) {
      registrar = (end) => {
        const streams = this.#streams.get(generation) ?? new Set<() => void>();
        this.#streams.set(generation, streams);
        streams.add(end);
        return () => streams.delete(end);
      };
      this.#registrars.set(generation, registrar);
    }
    return registrar;
  }

  /** The long-lived connections a generation holds here: what a drain waits for. */
  longLived(generation: number): LongLived {
    const { websockets, others } = this.#tunnels.count(generation);
    return { websockets, streams: this.#streams.get(generation)?.size ?? 0, others };
  }

  /**
   * airlock is stopping, before any generation gets its stop signal: no new connections,
   * each kept-alive one closes after the answer it is on (Connection: close), and what is
   * in flight finishes, for at most `ms`. Without it, clients that keep their connections
   * busy hold the proxy open while the app is already gone.
   */
  async quiesce(ms: number): Promise<void> {
    this.#closing = true;
    this.#stopAccepting();
    // Long-lived ones end now, as at the end of a drain: their app is about to go.
    for (const streams of this.#streams.values()) for (const end of [...streams]) end();
    this.#tunnels.cutEvery();
    const until = performance.now() + ms;
    // An answer that began before this still keeps its connection alive, and the client
    // may send one more request on it: close connections as they go idle, until none is left.
    for (;;) {
      this.#server.closeIdleConnections();
      const open = await new Promise<number>((resolve) => this.#listener.getConnections((_, count) => resolve(count ?? 0)));
      if (open === 0 || performance.now() >= until) return;
      await this.#inFlight.allIdle(Math.min(50, until - performance.now()));
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  /** No new connections here (the other workers sharing the socket stop on their own). */
  #stopAccepting(): void {
    if (this.#listener !== this.#server) this.#listener.close();
    this.#server.close();
  }

  async close(): Promise<void> {
    this.#switch.close();
    for (const routes of this.options.extensions?.routes ?? []) routes.close?.();
    if (this.#listener !== this.#server) this.#listener.close();
    await new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeIdleConnections();
    });
    await this.#pools.destroyAll();
  }

  /** Ends every client connection at once (forced stop). */
  destroy(): void {
    this.#switch.close();
    for (const routes of this.options.extensions?.routes ?? []) routes.close?.();
    this.#server.closeAllConnections();
    this.#stopAccepting();
    this.#tunnels.cutAll();
  }
}
