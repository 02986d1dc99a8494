import type { ServicePlan } from '../config/plan.js';
import { heldBy } from '../supervise/port-owner.js';

const IN_USE = /address already in use|EADDRINUSE/i;
/** Ports in "listen tcp 127.0.0.1:8080: bind: ..." or "EADDRINUSE: address already in use :::3000"; the last is the address. */
const PORT_IN_LINE = /:(\d{1,5})\b/g;

/**
 * What a generation's last output says about why it could not start, in the user's
 * terms. The common case: the app binds the address airlock holds for it (it ignores
 * $PORT), which would otherwise read as a bare "exited with code 1".
 *
 * @example
 *   explainStartFailure(plan, ['listen tcp 127.0.0.1:8080: bind: address already in use']);
 *   // 'the app binds 127.0.0.1:8080 itself, which airlock holds (handoff: proxy): make it listen on $PORT'
 */
export function explainStartFailure(plan: Pick<ServicePlan, 'listen' | 'handoff'>, tail: readonly string[]): string | undefined {
  const line = tail.find((text) => IN_USE.test(text));
  if (line === undefined) return undefined;
  const port = Number([...line.matchAll(PORT_IN_LINE)].at(-1)?.[1] ?? NaN);
  const listen = plan.listen;
  if (listen !== undefined && port === listen.port) {
    const fix =
      plan.handoff === 'proxy' || plan.handoff === 'tcp-proxy'
        ? 'make it listen on $PORT (a private port airlock gives each generation)'
        : 'make it take the socket airlock passes as fd 3 (LISTEN_FDS), or use handoff: proxy and listen on $PORT';
    return `the app binds ${listen.host}:${listen.port} itself, which airlock holds (handoff: ${plan.handoff}): ${fix}`;
  }
  if (Number.isInteger(port) && port > 0) return `port ${port} is already in use${heldBy(port)}`;
  return `an address the app binds is already in use`;
}
