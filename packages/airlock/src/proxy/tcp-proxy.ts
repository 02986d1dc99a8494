import { connect, createServer, type Server, type Socket } from 'node:net';
import { boundPort, listenOn } from './listen.js';
import { BackendSwitch, InFlight, type Backend } from './backends.js';
import type { LongLived } from './http-proxy.js';
import { Tunnels } from './tunnels.js';

export interface TcpProxyOptions {
  readonly service: string;
  readonly host: string;
  readonly port: number;
  readonly holdMs: number;
  readonly onError: (message: string) => void;
}

/**
 * The `tcp-proxy` handoff: every new connection goes to the active generation and stays
 * there for its whole life (HTTP/2, gRPC streams, databases, any TCP protocol). While no
 * generation is ready, a new connection waits, paused, instead of being refused.
 *
 * @example
 *   const proxy = new TcpProxy({ service: 'grpc', host: '127.0.0.1', port: 50051, holdMs: 30_000, onError: console.error });
 *   await proxy.listen();
 *   proxy.setActive({ generation: 1, host: '127.0.0.1', port: 41000 });
 */
export class TcpProxy {
  readonly #server: Server;
  /** The socket connections arrive on: the server's own, or one shared with other proxy workers (serve()). */
  #listener: Server;
  readonly #switch: BackendSwitch;
  readonly #inFlight = new InFlight();
  readonly #tunnels = new Tunnels(this.#inFlight);

  constructor(private readonly options: TcpProxyOptions) {
    this.#switch = new BackendSwitch(options.holdMs);
    this.#server = createServer({ pauseOnConnect: true, noDelay: true }, (socket) => void this.#accept(socket));
    this.#listener = this.#server;
  }

  listen(): Promise<void> {
    return listenOn(this.#server, this.options.host, this.options.port, this.options.onError);
  }

  /**
   * Serves the connections another process's listening socket hands this one (a proxy
   * worker). That socket was not made here with pauseOnConnect, so each connection is
   * paused as it arrives: nothing is read from it before its generation is chosen.
   */
  async serve(shared: Server): Promise<void> {
    this.#listener = shared;
    shared.on('connection', (socket: Socket) => {
      socket.pause();
      socket.setNoDelay(true);
      void this.#accept(socket);
    });
    shared.on('error', (error) => this.options.onError(`shared listener: ${error.message}`));
  }

  /** The listening socket (after listen()), to share with proxy workers. */
  get listener(): Server {
    return this.#listener;
  }

  get address(): { host: string; port: number } {
    return { host: this.options.host, port: boundPort(this.#server, this.options.port) };
  }

  get active(): Backend | undefined {
    return this.#switch.active;
  }

  setActive(backend: Backend | undefined): void {
    this.#switch.set(backend);
  }

  /** A crash loop: answer (or close) at once with the reason instead of holding. */
  setUnavailable(reason: string): void {
    this.#switch.setUnavailable(reason);
  }

  async #accept(client: Socket): Promise<void> {
    client.on('error', () => client.destroy());
    const backend = await this.#switch.acquire();
    if (backend === undefined || client.destroyed) {
      client.destroy();
      return;
    }
    const upstream = connect({ host: backend.host, port: backend.port, noDelay: true });
    this.#tunnels.join(backend.generation, client, upstream, {
      onConnect: () => client.resume(),
      onError: (error) => this.options.onError(`connection → g${backend.generation}: ${error.message}`),
    });
  }

  /** How many connections of the generation are open now. */
  open(generation: number): number {
    return this.#inFlight.count(generation);
  }

  /** The connections a generation holds here (as HttpProxy says it: each is an "other"). */
  longLived(generation: number): LongLived {
    return { websockets: 0, streams: 0, others: this.open(generation) };
  }

  /** Waits until the generation's connections closed (or `drainMs`), then cuts what is left. */
  async retire(generation: number, drainMs: number, _options: { quiet?: boolean } = {}): Promise<boolean> {
    const drained = await this.#inFlight.idle(generation, drainMs);
    this.#tunnels.cut(generation);
    return drained;
  }

  /**
   * airlock is stopping. Nothing to wait for here: connections cannot be moved, and each
   * generation closes its own as it drains after its stop signal (docs/strategies.md).
   */
  async quiesce(_ms: number): Promise<void> {}

  async close(): Promise<void> {
    this.#switch.close();
    if (this.#listener !== this.#server) this.#listener.close();
    if (!this.#server.listening) return;
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  destroy(): void {
    this.#switch.close();
    if (this.#listener !== this.#server) this.#listener.close();
    this.#server.close();
    this.#tunnels.cutAll();
  }
}
