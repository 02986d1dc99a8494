import { AirlockError } from '../errors.js';

/** A NATS repository: the servers to try, credentials from the URL, and the repository's name (its buckets' prefix). */
export interface NatsLocation {
  readonly kind: 'nats';
  /** host:port of each server given (a cluster may be listed comma-separated; the client learns the rest from the servers). */
  readonly servers: readonly string[];
  /** nats+tls:// or tls://: TLS required. */
  readonly tls: boolean;
  readonly user?: string;
  readonly pass?: string;
  readonly token?: string;
  readonly repo: string;
  /** The location as written, without credentials: for messages. */
  readonly display: string;
}

/** Where a release repository is: a directory, an http(s) URL (read only), or a NATS JetStream server. */
export type RepositoryLocation = { readonly kind: 'dir'; readonly path: string; readonly display: string } | { readonly kind: 'http'; readonly url: string; readonly display: string } | NatsLocation;

/** A repository's name in NATS becomes part of stream names: letters, digits, '_' and '-'. */
const REPO_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,47}$/;
const NATS_URL = /^(nats|nats\+tls|tls):\/\/(?:([^@/]*)@)?([^/@]+)\/([^/?#]*)\/?$/;

/**
 * Reads where a repository is from a flag or from `release.from`: `nats://HOST:PORT/REPO`
 * (also `nats://user:pass@…`, `nats://token@…`, `tls://…`, several servers as
 * `nats://h1:4222,h2:4222/REPO`), an http(s) URL, else a directory.
 *
 * @example
 *   parseLocation('nats://127.0.0.1:4222/releases'); // { kind: 'nats', servers: ['127.0.0.1:4222'], repo: 'releases', … }
 */
export function parseLocation(from: string, what = 'the repository'): RepositoryLocation {
  if (/^https?:\/\//.test(from)) return { kind: 'http', url: from, display: from };
  if (!/^[a-z+]+:\/\//.test(from)) return { kind: 'dir', path: from, display: from };
  const match = NATS_URL.exec(from);
  if (match === null) {
    throw new AirlockError('USAGE_FLAG', `${what} ${JSON.stringify(from)} is not a directory, an http(s) URL or nats://HOST:PORT/REPO; e.g. nats://127.0.0.1:4222/releases`);
  }
  const [, scheme, credentials, hosts, repo] = match as unknown as [string, string, string | undefined, string, string];
  if (!REPO_NAME.test(repo)) {
    throw new AirlockError('USAGE_FLAG', `${what} ${JSON.stringify(from)}: the repository name after the server must be letters, digits, '_' or '-' (at most 48), got ${JSON.stringify(repo)}; e.g. nats://127.0.0.1:4222/releases`);
  }
  const servers = hosts.split(',').map((host) => host.trim()).filter((host) => host !== '');
  for (const server of servers) {
    if (!/^[^:\s]+(:\d{1,5})?$/.test(server) && !/^\[[0-9a-fA-F:]+\](:\d{1,5})?$/.test(server)) throw new AirlockError('USAGE_FLAG', `${what} ${JSON.stringify(from)}: ${JSON.stringify(server)} is not HOST:PORT`);
  }
  const auth: { user?: string; pass?: string; token?: string } = {};
  if (credentials !== undefined && credentials !== '') {
    const colon = credentials.indexOf(':');
    if (colon < 0) auth.token = decodeURIComponent(credentials);
    else {
      auth.user = decodeURIComponent(credentials.slice(0, colon));
      auth.pass = decodeURIComponent(credentials.slice(colon + 1));
    }
  }
  const tls = scheme !== 'nats';
  return { kind: 'nats', servers, tls, ...auth, repo, display: `${scheme}://${servers.join(',')}/${repo}` };
}
