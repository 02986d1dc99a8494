import type { EventBus } from '../events.js';

/** How `--once` ended: every service ready, or the first one that failed and why. */
export type OnceVerdict = { readonly ok: true; readonly services: readonly string[] } | { readonly ok: false; readonly service: string; readonly reason: string };

/**
 * `airlock dev --once` (scripts and CI smoke tests): resolves once every one of `services`
 * had a generation ready, or at the first failed build or failed start of a service not
 * ready yet, with the reason and its error code. Nothing is retried: a smoke test wants
 * the first answer, not a backoff.
 *
 * @example
 *   const verdict = await untilReady(bus, ['api', 'web']);
 *   if (!verdict.ok) console.error(`${verdict.service}: ${verdict.reason}`);
 */
export function untilReady(bus: EventBus, services: readonly string[]): Promise<OnceVerdict> {
  const waiting = new Set(services);
  return new Promise((resolve) => {
    const stop = bus.subscribe((event) => {
      if (!waiting.has(event.service)) return;
      if (event.type === 'reload.ready') waiting.delete(event.service);
      else if (event.type === 'build.failed' || event.type === 'reload.failed') {
        stop();
        return resolve({ ok: false, service: event.service, reason: `${event.message} [${event.code}]` });
      }
      if (waiting.size === 0) {
        stop();
        resolve({ ok: true, services });
      }
    }, 'once');
  });
}
