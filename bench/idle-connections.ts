import { connect, type Socket } from 'node:net';
import { goHello, rssMiB } from './lib.ts';
import { airlock, haproxy } from './proxy.ts';

/**
 * Memory per idle keep-alive connection (issue 28): N client connections to a proxy in
 * front of the same Go app, each having made one request and now holding its connection
 * open with nothing in flight; the proxy's resident memory before and after, for HAProxy
 * and airlock's proxy, in one run. A connection asks again every 2 s so that no proxy's
 * keep-alive timeout (airlock's is 5 s) closes it while the others are being opened.
 */
// HAProxy reserves two descriptors per connection and this machine's hard limit is 20,000:
// 9,000 is the most it can hold; airlock's proxy (one per client connection) also takes 10,000.
const HAPROXY_COUNTS = [1_000, 9_000];
const AIRLOCK_COUNTS = [1_000, 9_000, 10_000];

export interface IdleFigures {
  readonly name: string;
  readonly counts: readonly { readonly connections: number; readonly rssMiB: number; readonly baseMiB: number }[];
}

const REQUEST = 'GET / HTTP/1.1\r\nHost: bench\r\n\r\n';

/** Opens n keep-alive connections, each with one answered request; resolves once all are idle. */
async function openIdle(port: number, n: number): Promise<Socket[]> {
  const sockets: Socket[] = [];
  for (let start = 0; start < n; start += 500) {
    const batch = Array.from({ length: Math.min(500, n - start) }, () => new Promise<Socket>((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => socket.write(REQUEST));
      socket.once('data', () => resolve(socket));
      socket.once('error', reject);
    }));
    sockets.push(...(await Promise.all(batch)));
  }
  for (const socket of sockets) socket.on('data', () => undefined);
  return sockets;
}

async function measure(name: string, port: number, pid: number, sizes: readonly number[]): Promise<IdleFigures> {
  const counts: IdleFigures['counts'][number][] = [];
  // One baseline, before any connection: memory a proxy took for the first N is not given back before the next.
  await new Promise((resolve) => setTimeout(resolve, 500));
  const baseMiB = rssMiB(pid);
  for (const n of sizes) {
    const sockets = await openIdle(port, n);
    const keep = setInterval(() => {
      for (const socket of sockets) socket.write(REQUEST);
    }, 2_000);
    // Settled: everything answered, nothing in flight.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    counts.push({ connections: n, rssMiB: rssMiB(pid), baseMiB });
    clearInterval(keep);
    for (const socket of sockets) socket.destroy();
  }
  return { name, counts };
}

export async function idleConnections(basePort: number): Promise<IdleFigures[]> {
  const { dir, app, child: upstream } = await goHello('idle', basePort);
  const results: IdleFigures[] = [];
  try {
    const front = await haproxy(dir, basePort + 1, basePort, { maxconn: 9500, idle: '5m' });
    try {
      results.push(await measure('HAProxy 2.6, 1 thread', front.port, front.pid, HAPROXY_COUNTS));
    } finally {
      await front.stop();
    }
    // One proxy process: its RSS is what the connections cost.
    const own = await airlock(dir, basePort + 2, app, 'proxy', { workers: 1 });
    try {
      results.push(await measure('airlock proxy', own.port, own.proc.child.pid as number, AIRLOCK_COUNTS));
    } finally {
      await own.stop();
    }
  } finally {
    upstream.kill('SIGKILL');
  }
  return results;
}

export function idleTable(rows: readonly IdleFigures[]): string {
  return [
    '### Memory per idle keep-alive connection (bench/idle-connections.ts, `npm run bench -- idle`; issue 28)',
    '',
    'N connections, each with one request answered and nothing in flight (asked again every 2 s so no keep-alive timeout closes it); the proxy process\'s RSS before any connection and with N open (HAProxy 9,000 at most: it reserves two descriptors per connection and the hard limit here is 20,000):',
    '',
    '| proxy | connections | RSS before | RSS with them | per connection |',
    '| --- | --- | --- | --- | --- |',
    ...rows.flatMap((row) => row.counts.map((c) => `| ${row.name} | ${c.connections.toLocaleString('en')} | ${c.baseMiB.toFixed(1)} MiB | ${c.rssMiB.toFixed(1)} MiB | ${(((c.rssMiB - c.baseMiB) * 1024) / c.connections).toFixed(1)} KiB |`)),
  ].join('\n');
}
