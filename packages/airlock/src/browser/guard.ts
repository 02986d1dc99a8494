import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/** Why a request to the dashboard was refused (status and what to do), or undefined when it may go on. */
export type Refusal = { readonly status: 401 | 403 | 421; readonly why: string } | undefined;

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

/** The Host values the dashboard answers to: its own address, and the loopback names for a loopback one. */
export function allowedHosts(host: string, port: number): Set<string> {
  const bracketed = host.includes(':') ? `[${host}]` : host;
  const names = LOOPBACK.has(host) ? ['127.0.0.1', 'localhost', '[::1]'] : [bracketed];
  return new Set(names.map((name) => `${name}:${port}`));
}

function sameSecret(given: string | undefined, token: string): boolean {
  if (given === undefined || given.length !== token.length) return false;
  return timingSafeEqual(Buffer.from(given), Buffer.from(token));
}

/**
 * What keeps other web pages the user has open from using the dashboard: the Host must
 * be the dashboard's own (a DNS-rebinding page reaches 127.0.0.1 under its own name),
 * every request but the static script (`open`) carries the token only the printed URL has (in `x-airlock-token`, or
 * `?token=` where a browser cannot set headers: the page itself, its event stream), and
 * a request that acts (POST) must come from the dashboard's own origin.
 *
 * @example
 *   const refusal = guard(req, { hosts: allowedHosts('127.0.0.1', 9465), token });
 *   if (refusal) return res.writeHead(refusal.status).end(refusal.why);
 */
export function guard(req: IncomingMessage, options: { readonly hosts: ReadonlySet<string>; readonly token: string; readonly open?: ReadonlySet<string> }): Refusal {
  const host = req.headers.host ?? '';
  if (!options.hosts.has(host.toLowerCase())) {
    return { status: 421, why: `Host "${host}" is not this dashboard's address (${[...options.hosts].join(', ')}): refused, as a page reached by DNS rebinding would be` };
  }
  const url = new URL(req.url ?? '/', `http://${host}`);
  // The page's own static script holds nothing of the services' (a <script src> cannot carry a header).
  if (req.method === 'GET' && options.open?.has(url.pathname)) return undefined;
  const given = (req.headers['x-airlock-token'] as string | undefined) ?? url.searchParams.get('token') ?? undefined;
  if (!sameSecret(given, options.token)) return { status: 401, why: 'open the dashboard with the URL airlock printed at start (it carries this run\'s token)' };
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    const origin = req.headers.origin;
    if (origin !== `http://${host}`) return { status: 403, why: `a request that acts must come from the dashboard itself (Origin ${origin ?? 'missing'}, expected http://${host})` };
  }
  return undefined;
}
