import { connect, createServer, type Server, type Socket } from 'node:net';
import { listenOn } from './listen.js';
import { BackendSwitch, InFlight, type Backend } from './backends.js';
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
  readonly #switch: BackendSwitch;
  readonly #inFlight = new InFlight();
  readonly #tunnels = new Tunnels(this.#inFlight);

  constructor(private readonly options: TcpProxyOptions) {
    this.#switch = new BackendSwitch(options.holdMs);
    this.#server = createServer({ pauseOnConnect: true, noDelay: true }, (socket) => void this.#accept(socket));
  }

  listen(): Promise<void> {
    return listenOn(this.#server, this.options.host, this.options.port, this.options.onError);
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

  /** Waits until the generation's connections closed (or `drainMs`), then cuts what is left. */
  async retire(generation: number, drainMs: number): Promise<boolean> {
    const drained = await this.#inFlight.idle(generation, drainMs);
    this.#tunnels.cut(generation);
    return drained;
  }

  async close(): Promise<void> {
    this.#switch.close();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  destroy(): void {
    this.#switch.close();
    this.#server.close();
    this.#tunnels.cutAll();
  }
}
