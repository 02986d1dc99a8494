import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { InFlight } from './backends.js';

/**
 * Byte tunnels between a client and a generation (WebSocket upgrades, tcp-proxy
 * connections), counted as open work of that generation until either side closes, so a
 * retiring generation can wait for them and then cut what is left.
 */
export class Tunnels {
  readonly #open = new Map<number, Set<Duplex>>();

  constructor(private readonly inFlight: InFlight) {}

  /**
   * Pipes client and upstream both ways once upstream connects (after `onConnect` wrote
   * what must go first); `onError` hears an upstream failure before both sides close.
   */
  join(generation: number, client: Duplex, upstream: Socket, hooks: { onConnect: () => void; onError: (error: Error) => void }): void {
    const open = this.#open.get(generation) ?? new Set<Duplex>();
    this.#open.set(generation, open);
    open.add(client);
    this.inFlight.add(generation);
    let closed = false;
    const close = () => {
      if (closed) return;
      closed = true;
      open.delete(client);
      client.destroy();
      upstream.destroy();
      this.inFlight.done(generation);
    };
    client.once('close', close);
    client.once('error', close);
    upstream.once('close', close);
    upstream.once('error', (error) => {
      hooks.onError(error);
      close();
    });
    upstream.once('connect', () => {
      hooks.onConnect();
      client.pipe(upstream).pipe(client);
    });
  }

  /** Closes every tunnel still open to a generation. */
  cut(generation: number): void {
    for (const client of this.#open.get(generation) ?? []) client.destroy();
    this.#open.delete(generation);
  }

  cutAll(): void {
    for (const generation of [...this.#open.keys()]) this.cut(generation);
  }
}
