import type { ServicePlan } from '../config/plan.js';
import { isAbsolute, relative, resolve } from 'node:path';
import { goOwnPort, nodeOwnPort, type OwnPort } from '../config/presets/own-port.js';
import { heldBy } from '../supervise/port-owner.js';

const IN_USE = /address already in use|EADDRINUSE/i;
/** Go: "listen tcp :8080: bind: address already in use"; Node: "listen EADDRINUSE: address already in use :::8080". */
const GO_BIND = /listen (?:tcp|tcp4|tcp6) (\S*:\d{1,5}): bind:/;
const NODE_BIND = /address already in use (\S*:\d{1,5})/;
/** Node's error object, printed below the stack: `address: '::',` and `port: 8080`. */
const NODE_ADDRESS = /^\s*address: '([^']*)',?$/;
const NODE_PORT = /^\s*port: (\d{1,5}),?$/;
/** Any other line naming the port: the last ":<digits>" on it. */
const PORT_IN_LINE = /:(\d{1,5})\b/g;
const EVERY_ADDRESS = new Set(['', '::', '0.0.0.0', '[::]']);

/** The address the app tried to bind, as its output names it ("host:port"; ":port" or ":::port" for every address), and its port. */
function boundAddress(tail: readonly string[]): { address: string | undefined; port: number } | undefined {
  for (const line of tail) {
    const named = GO_BIND.exec(line) ?? NODE_BIND.exec(line);
    if (named) return { address: named[1] as string, port: Number(/(\d+)$/.exec(named[1] as string)?.[1]) };
  }
  // The "Error:" line may be cut off (airlock keeps the last 20 lines): Node's error object says it too.
  const port = tail.map((line) => NODE_PORT.exec(line)?.[1]).find((found) => found !== undefined);
  const host = tail.map((line) => NODE_ADDRESS.exec(line)?.[1]).find((found) => found !== undefined);
  if (port !== undefined && host !== undefined) return { address: `${host}:${port}`, port: Number(port) };
  const line = tail.find((text) => IN_USE.test(text));
  const loose = Number([...(line ?? '').matchAll(PORT_IN_LINE)].at(-1)?.[1] ?? NaN);
  return Number.isInteger(loose) && loose > 0 ? { address: undefined, port: loose } : undefined;
}

function everyAddress(address: string): boolean {
  return EVERY_ADDRESS.has(address.slice(0, address.lastIndexOf(':')));
}

function fixFor(handoff: ServicePlan['handoff']): string {
  return handoff === 'proxy' || handoff === 'tcp-proxy'
    ? 'make it listen on $PORT (a private port airlock gives each generation)'
    : 'make it take the socket airlock passes as fd 3 (LISTEN_FDS), or use handoff: proxy and listen on $PORT';
}

/**
 * What a generation's last output (and, when it said nothing, its source) says about why
 * it could not start, in the user's terms. The common case: the app binds the address
 * airlock holds for it (it ignores $PORT), which would otherwise read as a bare "exited
 * with code 1", or, when the code ignores the bind error, "exited with code 0".
 *
 * @example
 *   explainStartFailure(plan, ['listen tcp :8080: bind: address already in use']);
 *   // 'the app binds :8080 (every address, so also 127.0.0.1:8080, which airlock holds for handoff: proxy): make it listen on $PORT …'
 */
export function explainStartFailure(plan: Pick<ServicePlan, 'listen' | 'handoff'>, tail: readonly string[], source?: () => OwnPort | undefined): string | undefined {
  const listen = plan.listen;
  const holds = listen === undefined ? '' : `${listen.host}:${listen.port}, which airlock holds for handoff: ${plan.handoff}`;
  if (!tail.some((text) => IN_USE.test(text))) {
    // Nothing said: a bind error the code ignores (`http.ListenAndServe(":8080", nil)` unchecked) exits 0 at once.
    // The source is read only here: when the output says nothing of a bind.
    const own = listen === undefined ? undefined : source?.();
    if (own?.kind !== 'literal' || listen === undefined || own.port !== listen.port) return undefined;
    return `it never listened on $PORT, and ${own.where} binds ${own.address}, which airlock holds for handoff: ${plan.handoff}, so that bind failed (an error the code ignores): ${fixFor(plan.handoff)}`;
  }
  const bound = boundAddress(tail);
  if (bound === undefined) return 'an address the app binds is already in use';
  const { address, port } = bound;
  if (listen !== undefined && port === listen.port) {
    if (address !== undefined && everyAddress(address)) return `the app binds ${address} (every address, so also ${holds}): ${fixFor(plan.handoff)}`;
    return `the app binds ${address ?? `${listen.host}:${listen.port}`} itself, which airlock holds for handoff: ${plan.handoff}: ${fixFor(plan.handoff)}`;
  }
  return `port ${port}${address === undefined ? '' : ` (${address})`} is already in use${heldBy(port)}`;
}

/**
 * How the service's own source picks its address (as `airlock init` reads it), for a
 * generation that exited without saying why: a Go preset's main package, a Node
 * preset's sources, else whichever the service directory holds.
 *
 * @example
 *   sourceAddress(plan); // { kind: 'literal', address: ':8080', port: 8080, where: 'main.go:12' }
 */
export function sourceAddress(plan: Pick<ServicePlan, 'dir' | 'go' | 'preset'>): OwnPort | undefined {
  try {
    if (plan.go !== undefined) return goOwnPort(resolve(plan.go.moduleDir, plan.go.main), plan.dir);
    if (plan.preset === 'node') return nodeOwnPort(plan.dir);
    return goOwnPort(plan.dir, plan.dir) ?? nodeOwnPort(plan.dir);
  } catch {
    // An unreadable source says nothing; the generic message stands.
    return undefined;
  }
}

/** A stack frame or a source line with its place: Node's `at fn (/app/x.js:3:9)`, `/app/x.js:3`, Go's `\t/app/main.go:12 +0x1d`. */
const FRAME = /(?:\(|\s|^)((?:file:\/\/)?\/[^\s():]+):(\d+)(?::(\d+))?/;

/**
 * Where in the project a generation that crashed at start was, from its output: the
 * first stack frame (or Node's "file:line" header) inside `dir` and not in node_modules,
 * relative to `dir` ("server.js:3:9"); undefined when the output names no such place.
 *
 * @example
 *   crashLocation(['/app/server.js:3', "    throw new Error('boom')", '    at Object.<anonymous> (/app/server.js:3:9)'], '/app'); // 'server.js:3:9'
 */
export function crashLocation(tail: readonly string[], dir: string): string | undefined {
  let found: { file: string; line: string; col: string | undefined } | undefined;
  for (const text of tail) {
    const match = FRAME.exec(text);
    if (!match) continue;
    const file = (match[1] as string).replace(/^file:\/\//, '');
    const rel = relative(dir, file);
    if (rel.startsWith('..') || isAbsolute(rel) || rel.split('/').includes('node_modules')) continue;
    // The header names the line; the frame below it the column too: keep the more precise one of the same place.
    if (found === undefined) found = { file: rel, line: match[2] as string, col: match[3] };
    else if (found.file === rel && found.line === match[2] && found.col === undefined) found = { ...found, col: match[3] };
    else break;
  }
  return found && `${found.file}:${found.line}${found.col ? `:${found.col}` : ''}`;
}
