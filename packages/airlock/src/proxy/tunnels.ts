import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { InFlight } from './backends.js';
import { closeFrame, FrameBoundaries } from './ws-frames.js';

/** What a WebSocket client hears when its generation is gone: 1001 is "going away" (RFC 6455 §7.4.1). */
export const GOING_AWAY = { code: 1001, reason: 'going away: airlock replaced this version' };
/** How long a goodbye waits for a frame under way to end, and then for the client to close. */
const GOODBYE_MS = 1_000;

interface Tunnel {
  readonly client: Duplex;
  /** Ends it as its protocol ends (a WebSocket close frame), or at once. */
  readonly goodbye: () => void;
  readonly websocket: boolean;
}

/**
 * Byte tunnels between a client and a generation (WebSocket upgrades, tcp-proxy
 * connections), counted as open work of that generation until either side closes, so a
 * retiring generation can wait for them and then end what is left: a WebSocket with a
 * close frame 1001 "going away" put between two frames (its client sees a clean close,
 * not 1006), anything else by closing it.
 */
export class Tunnels {
  readonly #open = new Map<number, Set<Tunnel>>();

  constructor(private readonly inFlight: InFlight) {}

  /**
   * Pipes client and upstream both ways once upstream connects (after `onConnect` wrote
   * what must go first); `onError` hears an upstream failure before both sides close.
   */
  join(generation: number, client: Duplex, upstream: Socket, hooks: { onConnect: () => void; onError: (error: Error) => void; websocket?: boolean }): void {
    const open = this.#open.get(generation) ?? new Set<Tunnel>();
    this.#open.set(generation, open);
    this.inFlight.add(generation);
    const frames = hooks.websocket ? new FrameBoundaries() : undefined;
    let stopping = false;
    let closed = false;
    const close = () => {
      if (closed) return;
      closed = true;
      open.delete(tunnel);
      client.destroy();
      upstream.destroy();
      this.inFlight.done(generation);
    };
    const sayGoodbye = () => {
      client.unpipe(upstream);
      upstream.destroy();
      client.end(closeFrame(GOING_AWAY.code, GOING_AWAY.reason));
      setTimeout(close, GOODBYE_MS).unref();
    };
    const tunnel: Tunnel = {
      client,
      websocket: frames !== undefined,
      goodbye: () => {
        if (frames === undefined || (upstream.readyState !== 'open' && upstream.readyState !== 'readOnly')) return close();
        stopping = true;
        if (frames.atBoundary) return sayGoodbye();
        // A frame is under way: it ends first, or the tunnel is closed as before.
        setTimeout(close, GOODBYE_MS).unref();
      },
    };
    open.add(tunnel);
    client.once('close', close);
    client.once('error', close);
    upstream.once('close', () => (stopping ? undefined : close()));
    upstream.once('error', (error) => {
      if (stopping) return;
      hooks.onError(error);
      close();
    });
    upstream.once('connect', () => {
      hooks.onConnect();
      client.pipe(upstream);
      if (frames === undefined) return void upstream.pipe(client);
      // Server to client through the frame tracker, so a goodbye lands between frames.
      upstream.on('data', (chunk: Buffer) => {
        const n = frames.feed(chunk, stopping);
        if (n > 0 && !client.write(n === chunk.length ? chunk : chunk.subarray(0, n))) {
          upstream.pause();
          client.once('drain', () => upstream.resume());
        }
        if (stopping && frames.atBoundary) sayGoodbye();
      });
      upstream.once('end', () => (stopping ? undefined : client.end()));
    });
  }

  /** The tunnels open to a generation: WebSockets, and the others. */
  count(generation: number): { websockets: number; others: number } {
    const open = [...(this.#open.get(generation) ?? [])];
    const websockets = open.filter((tunnel) => tunnel.websocket).length;
    return { websockets, others: open.length - websockets };
  }

  /** Ends every tunnel still open to a generation (WebSockets with a close frame). */
  cut(generation: number): void {
    for (const tunnel of [...(this.#open.get(generation) ?? [])]) tunnel.goodbye();
    this.#open.delete(generation);
  }

  /** airlock stops gracefully: every tunnel ended as by cut() (WebSockets with a close frame). */
  cutEvery(): void {
    for (const generation of [...this.#open.keys()]) this.cut(generation);
  }

  /** airlock stops at once: every tunnel closed. */
  cutAll(): void {
    for (const open of this.#open.values()) for (const tunnel of [...open]) tunnel.client.destroy();
    this.#open.clear();
  }
}
