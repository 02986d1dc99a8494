import { readFileSync } from 'node:fs';
import { connect, credsAuthenticator, nkeyAuthenticator, type NatsConnection, type ConnectionOptions } from '@nats-io/transport-node';
import { AirlockError } from '../../errors.js';
import type { NatsLocation } from '../../config/release-location.js';

/** The oldest server airlock's repository layout is tested on (Debian 12's nats-server). */
export const OLDEST_SERVER = [2, 9, 0] as const;

/**
 * The usual NATS client options, as the `nats` CLI reads them from the environment:
 * NATS_CREDS (a creds file), NATS_NKEY (a seed file), NATS_USER/NATS_PASSWORD, NATS_TOKEN,
 * NATS_CA/NATS_CERT/NATS_KEY (TLS). Credentials in the URL win over the variables.
 */
function options(location: NatsLocation, env: NodeJS.ProcessEnv, name: string): ConnectionOptions {
  const opts: ConnectionOptions = { servers: [...location.servers], name, timeout: 5_000 };
  const user = location.user ?? env.NATS_USER;
  const pass = location.pass ?? env.NATS_PASSWORD;
  const token = location.token ?? env.NATS_TOKEN;
  if (user !== undefined && user !== '') Object.assign(opts, { user, pass: pass ?? '' });
  else if (token !== undefined && token !== '') opts.token = token;
  const read = (variable: string, file: string) => {
    try {
      return readFileSync(file);
    } catch (error) {
      throw new AirlockError('NATS_UNREACHABLE', `${variable}=${file}: cannot read it: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
    }
  };
  if (env.NATS_CREDS) {
    const creds = read('NATS_CREDS', env.NATS_CREDS);
    opts.authenticator = credsAuthenticator(new Uint8Array(creds));
  } else if (env.NATS_NKEY) {
    const seed = read('NATS_NKEY', env.NATS_NKEY).toString('utf8').trim();
    opts.authenticator = nkeyAuthenticator(new TextEncoder().encode(seed));
  }
  if (location.tls || env.NATS_CA || env.NATS_CERT) {
    opts.tls = { ...(env.NATS_CA ? { caFile: env.NATS_CA } : {}), ...(env.NATS_CERT ? { certFile: env.NATS_CERT } : {}), ...(env.NATS_KEY ? { keyFile: env.NATS_KEY } : {}) };
  }
  return opts;
}

function olderThan(version: string, oldest: readonly number[]): boolean {
  const parts = version.split(/[.-]/).slice(0, 3).map(Number);
  for (let i = 0; i < 3; i++) {
    const have = parts[i] ?? 0;
    if (have !== oldest[i]) return have < (oldest[i] ?? 0);
  }
  return false;
}

export interface ConnectOptions {
  /** Who connects, for the server's connection list (`airlock agent web@host-a`). */
  readonly name: string;
  /**
   * Keep trying when no server answers at first (an agent started before NATS): true;
   * a command fails at once with NATS_UNREACHABLE: false.
   */
  readonly waitForServer?: boolean;
  readonly env?: NodeJS.ProcessEnv;
}

/**
 * A connection to the servers of a `nats://` location that reconnects for ever (to any
 * server of the cluster it has learnt), refused with a clear error when the server is
 * older than airlock needs.
 *
 * @example
 *   const nc = await connectNats(parseLocation('nats://127.0.0.1:4222/releases') as NatsLocation, { name: 'airlock release publish' });
 */
export async function connectNats(location: NatsLocation, { name, waitForServer = false, env = process.env }: ConnectOptions): Promise<NatsConnection> {
  let nc: NatsConnection;
  try {
    nc = await connect({ ...options(location, env, name), maxReconnectAttempts: -1, reconnectTimeWait: 250, waitOnFirstConnect: waitForServer, ignoreClusterUpdates: false });
  } catch (error) {
    if (error instanceof AirlockError) throw error;
    throw new AirlockError('NATS_UNREACHABLE', `${location.display}: cannot connect: ${(error as Error).message}`, { cause: error });
  }
  const version = nc.info?.version ?? '0.0.0';
  if (olderThan(version, OLDEST_SERVER)) {
    await nc.close();
    throw new AirlockError('NATS_SERVER', `${location.display}: nats-server ${version} is older than ${OLDEST_SERVER.join('.')}, the oldest airlock's repository works with; upgrade the server`);
  }
  return nc;
}
