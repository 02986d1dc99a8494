import type { NatsLocation } from '../../config/release-location.js';
import { natsConnection, sharedRepository } from './shared.js';

/**
 * Calls `onChange` each time a repository's timestamp.json is rewritten (a publish, a
 * rollout step, an expire): an agent checks at once instead of at its next poll. The
 * watch is an ordered consumer that the client re-creates after a reconnect, so it
 * carries on when the server (or a cluster node) comes back. Until the first connection
 * succeeds it keeps trying; the poll stays as the backstop either way.
 *
 * @example
 *   const stop = watchTimestamp(location, 'airlock agent', () => void poll());
 */
export function watchTimestamp(location: NatsLocation, name: string, onChange: () => void): () => void {
  let stopped = false;
  let stopWatch: (() => void) | undefined;
  const start = async (): Promise<void> => {
    while (!stopped) {
      try {
        const { meta } = await sharedRepository(location, name);
        const watch = await meta.watch({ key: 'timestamp.json', include: 'updates' });
        stopWatch = () => watch.stop();
        if (stopped) watch.stop();
        for await (const entry of watch) if (entry.operation === 'PUT') onChange();
      } catch {
        // The repository is not reachable yet (or the watch ended with the connection): try again.
      }
      if (!stopped) await new Promise((resolve) => setTimeout(resolve, 1_000).unref());
    }
  };
  // After a reconnect (a cluster node gone, the server back) the watch's consumer may sit
  // on a server that no longer serves it until it times out: start a fresh one at once,
  // and check now for what was published meanwhile.
  const reconnects = async (): Promise<void> => {
    const nc = await natsConnection(location, name).catch(() => undefined);
    if (nc === undefined) return;
    for await (const status of nc.status()) {
      if (stopped) return;
      if (status.type !== 'reconnect') continue;
      stopWatch?.();
      onChange();
    }
  };
  void start();
  void reconnects();
  return () => {
    stopped = true;
    stopWatch?.();
  };
}
