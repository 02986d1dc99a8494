import { connect } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';

/** One TCP connect attempt; true when something accepted. */
export function canConnect(host: string, port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

export type ReadyOutcome = 'ready' | 'exited' | 'timeout' | 'aborted';

/**
 * Waits until a new generation accepts TCP connections on its port, it exits, or the
 * start timeout passes, whichever comes first.
 *
 * @example
 *   await waitForPort({ host: '127.0.0.1', port: 8080, timeoutMs: 30_000, exited: child.ended });
 */
export async function waitForPort(options: {
  readonly host: string;
  readonly port: number;
  readonly timeoutMs: number;
  readonly exited: Promise<unknown>;
  readonly signal?: AbortSignal;
  readonly everyMs?: number;
}): Promise<ReadyOutcome> {
  let exited = false;
  void options.exited.then(() => (exited = true));
  const deadline = performance.now() + options.timeoutMs;
  const host = options.host === '0.0.0.0' || options.host === '' ? '127.0.0.1' : options.host === '::' ? '::1' : options.host;
  for (;;) {
    if (options.signal?.aborted) return 'aborted';
    if (exited) return 'exited';
    if (await canConnect(host, options.port)) return exited ? 'exited' : 'ready';
    if (performance.now() >= deadline) return 'timeout';
    // Most apps listen within milliseconds: probe often at first, then back off.
    const waited = options.timeoutMs - (deadline - performance.now());
    await delay(options.everyMs ?? (waited < 200 ? 2 : 10));
  }
}
