import { AirlockError } from '../errors.js';
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AirlockEvent, EventBus } from '../events.js';
import type { ControlTarget } from '../control/server.js';
import { ROLLOUT_ACTIONS } from '../control/server.js';
import { listenOn } from '../proxy/listen.js';
import { DASHBOARD_HTML, DASHBOARD_JS } from './dashboard-page.js';
import { allowedHosts, guard } from './guard.js';

/** A page that cannot keep up with the events (a hidden tab) is let go past this much unsent output. */
const MAX_BUFFERED = 1024 * 1024;
/** At most this many pages follow the events at once. */
const MAX_PAGES = 16;

/** Events the page has no use for: the services' own output would flood it. */
const SKIPPED = new Set<AirlockEvent['type']>(['process.output']);

/** Paths served without the token: the page's script, which holds no data. */
const STATIC = new Set(['/app.js']);

const HEADERS = {
  'cache-control': 'no-store',
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'content-security-policy': "default-src 'self'; style-src 'unsafe-inline'; frame-ancestors 'none'",
};

/**
 * `airlock dev --ui`: a page served by airlock itself, live over server-sent events:
 * each service with its generations, one bar per reload with its phases and what
 * changed, the current build error and config rejections, and buttons for reload and a
 * rollout's promote and abort. Loopback by default; every request is checked (guard.ts):
 * Host against its own address, the per-start token of the printed URL, and the Origin
 * of every request that acts.
 *
 * @example
 *   const ui = await Dashboard.open({ host: '127.0.0.1', port: 9465 }, bus, target);
 *   console.log(ui.url); // http://127.0.0.1:9465/?token=…
 */
export class Dashboard {
  readonly #pages = new Set<ServerResponse>();
  readonly #token = randomBytes(18).toString('base64url');
  #unsubscribe: () => void = () => undefined;

  readonly #server: Server;
  readonly #hosts: ReadonlySet<string>;

  private constructor(
    private readonly address: { readonly host: string; readonly port: number },
    private readonly target: ControlTarget,
  ) {
    this.#hosts = allowedHosts(address.host, address.port);
    this.#server = createServer((req, res) => this.#handle(req, res));
  }

  static async open(address: { readonly host: string; readonly port: number }, bus: EventBus, target: ControlTarget): Promise<Dashboard> {
    const ui = new Dashboard(address, target);
    await listenOn(ui.#server, address.host, address.port, () => undefined).catch((error: unknown) => {
      // The catalog's how-to speaks of a service's listen: say which address this is and where it is set.
      throw new AirlockError('LISTEN_FAILED', `the dashboard: ${(error as Error).message}; give it another address with --ui HOST:PORT or ui: { listen } in airlock.yaml`, { cause: error });
    });
    ui.#unsubscribe = bus.subscribe((event) => ui.#publish(event), 'dashboard');
    return ui;
  }

  /** The address to open: the only one that carries this run's token. */
  get url(): string {
    const host = this.address.host.includes(':') ? `[${this.address.host}]` : this.address.host;
    return `http://${host}:${this.address.port}/?token=${this.#token}`;
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const refusal = guard(req, { hosts: this.#hosts, token: this.#token, open: STATIC });
    if (refusal !== undefined) {
      res.writeHead(refusal.status, { ...HEADERS, 'content-type': 'text/plain; charset=utf-8' });
      res.end(`${refusal.why}\n`);
      return;
    }
    const url = new URL(req.url ?? '/', 'http://dashboard');
    const route = `${req.method} ${url.pathname}`;
    if (route === 'GET /') return this.#send(res, 200, 'text/html; charset=utf-8', DASHBOARD_HTML);
    if (route === 'GET /app.js') return this.#send(res, 200, 'text/javascript; charset=utf-8', DASHBOARD_JS);
    if (route === 'GET /api/status') return this.#send(res, 200, 'application/json', JSON.stringify({ services: this.target.status(), configRejected: this.target.configRejected }));
    if (route === 'GET /api/events') return this.#follow(res);
    const service = url.searchParams.get('service') ?? '';
    if (route === 'POST /api/reload') {
      this.target.reload(service === '' ? [] : [service]);
      return this.#send(res, 202, 'text/plain; charset=utf-8', `reloading ${service || 'every service'}\n`);
    }
    if (route === 'POST /api/rollout') {
      const action = url.searchParams.get('action') as (typeof ROLLOUT_ACTIONS)[number];
      if (!ROLLOUT_ACTIONS.includes(action)) return this.#send(res, 400, 'text/plain; charset=utf-8', `action must be one of ${ROLLOUT_ACTIONS.join(', ')}\n`);
      void this.target.rollout(service, action).then((error) => this.#send(res, error?.status ?? 200, 'text/plain; charset=utf-8', `${error?.error ?? `${action}: done`}\n`));
      return;
    }
    this.#send(res, 404, 'text/plain; charset=utf-8', `no ${route} here\n`);
  }

  #send(res: ServerResponse, status: number, type: string, body: string): void {
    res.writeHead(status, { ...HEADERS, 'content-type': type });
    res.end(body);
  }

  #follow(res: ServerResponse): void {
    if (this.#pages.size >= MAX_PAGES) return this.#send(res, 503, 'text/plain; charset=utf-8', `${MAX_PAGES} pages follow airlock already; close one\n`);
    res.writeHead(200, { ...HEADERS, 'content-type': 'text/event-stream' });
    res.write('retry: 1000\n\n');
    this.#pages.add(res);
    res.on('close', () => this.#pages.delete(res));
  }

  #publish(event: AirlockEvent): void {
    if (SKIPPED.has(event.type)) return;
    const text = `data: ${JSON.stringify(event)}\n\n`;
    for (const page of this.#pages) {
      if (page.writableLength > MAX_BUFFERED) {
        page.destroy();
        continue;
      }
      page.write(text);
    }
  }

  async close(): Promise<void> {
    this.#unsubscribe();
    for (const page of this.#pages) page.end();
    this.#pages.clear();
    await new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
  }
}
