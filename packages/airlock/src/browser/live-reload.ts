import type { IncomingMessage, ServerResponse } from 'node:http';
import type { EventBus } from '../events.js';
import type { ProxyExtensions } from '../proxy/extensions.js';
import { clientScript } from './client-script.js';
import { appendToPages } from './inject.js';

/** The one path prefix live reload answers itself (never the app's). */
export const LIVE_PREFIX = '/__airlock/live/';
/** Compiler output lines shown in the overlay, at most. */
const OUTPUT_LINES = 40;
/** A comment now and then keeps idle event streams open through whatever sits between. */
const KEEP_ALIVE_MS = 15_000;

interface Failure {
  readonly service: string;
  readonly generation: number;
  readonly message: string;
  readonly locations: readonly string[];
  readonly output: readonly string[];
}

/**
 * Browser live reload for a service behind `handoff: proxy` (`proxy: { liveReload: true }`):
 * an interceptor appends one script to HTML pages, and airlock's own routes under
 * LIVE_PREFIX serve that script and an event stream. Pages reload once a new generation
 * is ready and serving (reload.ready: never when it merely spawned), swap their
 * stylesheets instead when only CSS files changed, and show a failed build's compiler
 * errors over the page until the next good build.
 *
 * @example
 *   const live = new LiveReload('web', bus);
 *   new ServiceRunner(plan, bus, { proxy: live.extensions });
 */
export class LiveReload {
  /** The open event streams, per proxy (a reshape makes a new proxy while the old one still serves). */
  readonly #clients = new Set<Set<ServerResponse>>();
  /** The build failure pages show until a good build serves. */
  #failure: Failure | undefined;
  #serving: number | undefined;
  /** The output of the service's build under way (one at a time: its reloads run in turn), for the overlay. */
  #build: { readonly generation: number; readonly lines: string[] } | undefined;
  readonly #unsubscribe: () => void;
  readonly #keepAlive: NodeJS.Timeout;
  readonly #script: string;

  constructor(
    private readonly service: string,
    bus: EventBus,
  ) {
    this.#script = clientScript(LIVE_PREFIX);
    this.#unsubscribe = bus.subscribe((event) => {
      if (event.service !== service) return;
      if (event.type === 'build.started') this.#build = { generation: event.generation, lines: [] };
      else if (event.type === 'build.output') {
        const lines = this.#build?.generation === event.generation ? this.#build.lines : undefined;
        if (lines !== undefined && lines.length < OUTPUT_LINES) lines.push(event.line);
      } else if (event.type === 'build.failed') {
        const output = this.#build?.generation === event.generation ? this.#build.lines : [];
        this.#failure = { service, generation: event.generation, message: event.message, locations: event.locations, output };
        this.#send('failed', this.#failure);
      } else if (event.type === 'reload.ready') {
        this.#failure = undefined;
        this.#serving = event.generation;
        // Only stylesheets changed: the page swaps them and keeps its state (scroll, form input).
        const cssOnly = event.reason.length > 0 && event.reason.every((path) => path.endsWith('.css'));
        this.#send(cssOnly ? 'css' : 'reload', { generation: event.generation });
      }
    }, `${service} live reload`);
    this.#keepAlive = setInterval(() => this.#write(': keep-alive\n\n'), KEEP_ALIVE_MS);
    this.#keepAlive.unref();
  }

  /** What a proxy of the service is given: the page interceptor and the routes under LIVE_PREFIX (its streams ended with it). */
  get extensions(): ProxyExtensions {
    const clients = new Set<ServerResponse>();
    this.#clients.add(clients);
    return {
      interceptors: [appendToPages(`<script src="${LIVE_PREFIX}client.js" async></script>`)],
      routes: [
        {
          prefix: LIVE_PREFIX,
          handle: (req, res) => this.#route(req, res, clients),
          close: () => {
            this.#clients.delete(clients);
            for (const client of clients) client.end();
          },
        },
      ],
    };
  }

  #route(req: IncomingMessage, res: ServerResponse, clients: Set<ServerResponse>): void {
    const path = (req.url ?? '').split('?')[0];
    if (path === `${LIVE_PREFIX}client.js`) {
      res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'no-store' });
      res.end(this.#script);
    } else if (path === `${LIVE_PREFIX}events`) {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
      // The browser tries again this soon when airlock restarts.
      res.write('retry: 500\n\n');
      res.write(event('hello', { generation: this.#serving ?? null }));
      if (this.#failure !== undefined) res.write(event('failed', this.#failure));
      clients.add(res);
      res.on('close', () => clients.delete(res));
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end(`${path} is reserved for airlock's live reload of ${this.service}\n`);
    }
  }

  #send(type: string, data: unknown): void {
    this.#write(event(type, data));
  }

  #write(text: string): void {
    for (const clients of this.#clients) for (const client of clients) client.write(text);
  }

  close(): void {
    this.#unsubscribe();
    clearInterval(this.#keepAlive);
    for (const clients of this.#clients) for (const client of clients) client.end();
    this.#clients.clear();
  }
}

function event(type: string, data: unknown): string {
  return `event: ${type}\ndata: ${JSON.stringify(data)}\n\n`;
}
