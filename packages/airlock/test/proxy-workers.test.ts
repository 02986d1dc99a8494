import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { Agent, createServer, request, type Server } from 'node:http';
import { connect, createServer as createTcpServer, type Server as NetServer, type Socket } from 'node:net';
import { once } from 'node:events';
import { after, describe, it } from 'node:test';
import { PROXY_REQUEST_CHANNEL, PROXY_RESPONSE_CHANNEL, type ProxyResponse } from '../src/proxy/http-proxy.ts';
import { ProxyWorkers } from '../src/proxy/workers.ts';
import { BucketSplit } from '../src/rollout/split.ts';
import { isAlive } from '../src/supervise/proc.ts';

/** A generation: a plain Node server that says its name, and counts what reached it. */
interface Upstream {
  readonly name: string;
  readonly server: Server;
  readonly port: number;
  hits: number;
}

async function upstream(name: string): Promise<Upstream> {
  const server = createServer((req, res) => {
    up.hits++;
    req.resume();
    req.on('end', () => res.end(name));
  });
  const up: Upstream = { name, server, port: 0, hits: 0 };
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return Object.assign(up, { port: (server.address() as { port: number }).port });
}

function stop(up: Upstream): void {
  up.server.closeAllConnections();
  up.server.close();
}

function get(port: number, agent: Agent | false, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/', agent, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Clients that do not retry (Node's Agent), asking until stopped: kept-alive connections, or a new one per request (keepAlive false). */
function load(port: number, connections: number, keepAlive = true) {
  const agent = keepAlive ? new Agent({ keepAlive: true, maxSockets: connections }) : false;
  const failures: string[] = [];
  let ok = 0;
  let running = true;
  const loops = Array.from({ length: connections }, async () => {
    while (running) {
      try {
        const { status } = await get(port, agent);
        if (status === 200) ok++;
        else failures.push(`status ${status}`);
      } catch (error) {
        failures.push((error as Error).message);
      }
    }
  });
  return {
    get ok() {
      return ok;
    },
    failures,
    async stop() {
      running = false;
      await Promise.all(loops);
      if (agent) agent.destroy();
    },
  };
}

describe('proxy.workers: one listen socket, several processes, swaps atomic across them', () => {
  const errors: string[] = [];
  const ups: Upstream[] = [];
  const pids = new Set<number>();
  const answered: ProxyResponse[] = [];
  const onResponse = (message: unknown) => answered.push(message as ProxyResponse);
  const onRequest = () => undefined;
  subscribe(PROXY_RESPONSE_CHANNEL, onResponse);
  subscribe(PROXY_REQUEST_CHANNEL, onRequest);
  const proxy = new ProxyWorkers({ service: 'api', host: '127.0.0.1', port: 0, holdMs: 5_000, onError: (m) => errors.push(m) }, 3);

  after(async () => {
    unsubscribe(PROXY_RESPONSE_CHANNEL, onResponse);
    unsubscribe(PROXY_REQUEST_CHANNEL, onRequest);
    proxy.destroy();
    for (const up of ups) stop(up);
    for (const pid of pids) if (isAlive(pid)) process.kill(pid, 'SIGKILL');
  });

  const generation = async (n: number) => {
    const up = await upstream(`g${n}`);
    ups.push(up);
    return { up, backend: { generation: n, host: '127.0.0.1', port: up.port } };
  };

  it('serves from every worker, and the figures of all of them arrive here', async () => {
    await proxy.listen();
    for (const pid of proxy.pids) pids.add(pid);
    assert.equal(proxy.pids.length, 2, 'two worker processes beside this one');
    const { backend } = await generation(1);
    proxy.setActive(backend);
    // New connections each time: the kernel spreads them over the processes accepting.
    for (let i = 0; i < 200; i++) assert.equal((await get(proxy.address.port, false)).body, 'g1');
    // Workers send their figures in batches (every 100 ms).
    await until(() => answered.length >= 200, 'every answer published here');
    const fromWorkers = answered.filter((r) => r.id !== undefined && r.id >= 2 ** 40);
    assert.ok(fromWorkers.length > 0, `some of ${answered.length} answers came from worker processes`);
    assert.ok(answered.length >= 200, `${answered.length} answers published here`);
    assert.ok(answered.every((r) => r.service === 'api' && r.generation === 1 && r.status === 200));
  });

  it('swaps 20 times under keep-alive load: no failed request, and none reaches a generation after every worker retired it', async () => {
    const traffic = load(proxy.address.port, 16);
    let previous = ups[0] as Upstream;
    for (let n = 2; n <= 21; n++) {
      const { up, backend } = await generation(n);
      proxy.setActive(backend);
      assert.equal(await proxy.retire(n - 1, 5_000), true, `g${n - 1} drained in every worker`);
      const hits = previous.hits;
      // What the pipeline does next: the old generation stops. Nothing may reach it now.
      stop(previous);
      await new Promise((resolve) => setTimeout(resolve, 20));
      assert.equal(previous.hits, hits, `${previous.name} got requests after every worker retired it`);
      previous = up;
    }
    await traffic.stop();
    assert.deepEqual(traffic.failures, [], `${traffic.failures.length} failed of ${traffic.ok + traffic.failures.length}`);
    assert.ok(traffic.ok > 200, `${traffic.ok} requests`);
  });

  it('splits alike in every worker: a key stays on its side whichever process answers, and a new share reaches all of them', async () => {
    const stable = ups.at(-1) as Upstream;
    const { backend: canary } = await generation(100);
    const split = new BucketSplit({ key: { kind: 'header', name: 'x-user' }, bucketing: 'airlock' }, 'workers-test', canary);
    split.share = 50;
    proxy.setSplit(split);
    // Each worker loads the split's module first: wait until all of them split alike.
    await proxy.settled();
    const sides = new Map<string, Set<string>>();
    for (let user = 0; user < 20; user++) {
      for (let i = 0; i < 10; i++) {
        const { body } = await get(proxy.address.port, false, { 'x-user': `user-${user}` });
        const seen = sides.get(`user-${user}`) ?? new Set<string>();
        seen.add(body);
        sides.set(`user-${user}`, seen);
      }
    }
    for (const [user, seen] of sides) assert.equal(seen.size, 1, `${user} answered by ${[...seen].join(' and ')}`);
    const onCanary = [...sides.values()].filter((seen) => seen.has('g100')).length;
    assert.ok(onCanary > 0 && onCanary < 20, `${onCanary} of 20 users on the canary at 50 %`);
    split.share = 100;
    proxy.setSplit(split);
    await proxy.settled();
    for (let i = 0; i < 30; i++) assert.equal((await get(proxy.address.port, false, { 'x-user': `user-${i}` })).body, 'g100');
    proxy.setSplit(undefined);
    await proxy.settled();
    for (let i = 0; i < 30; i++) assert.equal((await get(proxy.address.port, false, { 'x-user': `user-${i}` })).body, stable.name);
  });

  it('starts a worker that dies again, told the routing the others have, while the rest serve on', async () => {
    const [victim] = proxy.pids;
    assert.ok(victim !== undefined);
    const traffic = load(proxy.address.port, 4);
    process.kill(victim, 'SIGKILL');
    await until(() => proxy.pids.length === 2 && !proxy.pids.includes(victim), 'the worker started again');
    for (const pid of proxy.pids) pids.add(pid);
    await traffic.stop();
    assert.ok(errors.some((m) => m.includes(`(pid ${victim}) exited (SIGKILL)`)), errors.join('\n'));
    const stable = ups.at(-2) as Upstream;
    for (let i = 0; i < 50; i++) assert.equal((await get(proxy.address.port, false)).body, stable.name);
  });

  it('close() ends every worker process', async () => {
    const running = proxy.pids;
    await proxy.close();
    await until(() => running.every((pid) => !isAlive(pid)), 'the workers gone');
  });
});

describe('proxy.workers with tcp-proxy: connections spread over processes, a swap settled in all before the old generation stops', () => {
  const errors: string[] = [];
  const ups: Upstream[] = [];
  const pids = new Set<number>();
  const held: Socket[] = [];
  const proxy = new ProxyWorkers({ service: 'grpc', host: '127.0.0.1', port: 0, holdMs: 5_000, onError: (m) => errors.push(m) }, 3, 'tcp');

  after(() => {
    for (const socket of held) socket.destroy();
    proxy.destroy();
    for (const up of ups) stop(up);
    for (const pid of pids) if (isAlive(pid)) process.kill(pid, 'SIGKILL');
  });

  const servers: NetServer[] = [];
  after(() => servers.forEach((server) => server.close()));
  /**
   * A generation as a plain TCP app: answers one HTTP request per connection and closes it.
   * It stops as a graceful app does: no new connections, those it has finish (Node's own
   * http.Server.close() would also end accepted connections whose request is still on the way).
   */
  const generation = async (n: number) => {
    const server = createTcpServer((socket) => {
      socket.on('error', () => socket.destroy());
      socket.once('data', () => socket.end(`HTTP/1.1 200 OK\r\ncontent-length: ${String(n).length + 1}\r\nconnection: close\r\n\r\ng${n}`));
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return { server, backend: { generation: n, host: '127.0.0.1', port: (server.address() as { port: number }).port } };
  };

  it('holds connections in the worker processes too, each piped to the active generation', async () => {
    await proxy.listen();
    for (const pid of proxy.pids) pids.add(pid);
    assert.equal(proxy.pids.length, 2, 'two worker processes beside this one');
    // A plain TCP server that holds each connection open after saying its name.
    const peers: number[] = [];
    const plain = createTcpServer((socket) => {
      peers.push(socket.remotePort as number);
      socket.on('error', () => socket.destroy());
      socket.write('plain\n');
    });
    await new Promise<void>((resolve) => plain.listen(0, '127.0.0.1', resolve));
    after(() => plain.close());
    const plainPort = (plain.address() as { port: number }).port;
    proxy.setActive({ generation: 1, host: '127.0.0.1', port: plainPort });
    for (let i = 0; i < 100; i++) {
      const socket = connect(proxy.address.port, '127.0.0.1');
      held.push(socket);
      const [line] = (await once(socket, 'data')) as [Buffer];
      assert.equal(line.toString(), 'plain\n');
    }
    const owners = socketOwners(peers, plainPort, [process.pid, ...proxy.pids]);
    const inWorkers = [...owners.values()].filter((pid) => pid !== process.pid).length;
    assert.equal(owners.size, 100, `every upstream connection found in a proxy process (${owners.size})`);
    assert.ok(inWorkers > 0, `some of the 100 connections are held by worker processes (${inWorkers})`);
    for (const socket of held.splice(0)) socket.destroy();
  });

  it('swaps 20 times under load of new connections: once settled, every worker sends new ones to the new generation; the old stops and none fails', async () => {
    const first = await generation(2);
    let previous = first.server;
    proxy.setActive(first.backend);
    await proxy.settled();
    const traffic = load(proxy.address.port, 12, false);
    try {
      for (let n = 3; n <= 22; n++) {
        const next = await generation(n);
        proxy.setActive(next.backend);
        await proxy.settled();
        // Whichever process takes a connection from now on sends it to the new generation.
        for (let i = 0; i < 10; i++) assert.equal((await get(proxy.address.port, false)).body, `g${n}`, `a connection right after the swap to g${n}`);
        // The old generation stops (as the pipeline stops it): connections made before the
        // swap have long reached it; a new one sent there now would be refused.
        previous.close();
        previous = next.server;
      }
    } finally {
      await traffic.stop();
    }
    assert.deepEqual(traffic.failures, [], `${traffic.failures.length} failed of ${traffic.ok + traffic.failures.length}`);
    assert.ok(traffic.ok > 100, `${traffic.ok} requests`);
    assert.deepEqual(errors, []);
  });

  it('close() ends every worker process', async () => {
    const running = proxy.pids;
    await proxy.close();
    await until(() => running.every((pid) => !isAlive(pid)), 'the workers gone');
  });
});

/**
 * Which of `pids` holds the proxy's side of each connection to `upstreamPort` (by the
 * local port each was made from): /proc/net/tcp gives the socket's inode, a process's fds
 * name the inodes it holds.
 */
function socketOwners(localPorts: readonly number[], upstreamPort: number, pids: readonly number[]): Map<number, number> {
  const inodeOf = new Map<number, string>();
  for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 10) continue;
    const local = parseInt((fields[1] as string).split(':')[1] as string, 16);
    const remote = parseInt((fields[2] as string).split(':')[1] as string, 16);
    if (remote === upstreamPort && localPorts.includes(local)) inodeOf.set(local, fields[9] as string);
  }
  const owners = new Map<number, number>();
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    const inodes = new Set<string>();
    for (const fd of fds) {
      try {
        const link = readlinkSync(`/proc/${pid}/fd/${fd}`);
        if (link.startsWith('socket:[')) inodes.add(link.slice(8, -1));
      } catch {
        // closed meanwhile
      }
    }
    for (const [port, inode] of inodeOf) if (inodes.has(inode)) owners.set(port, pid);
  }
  return owners;
}

async function until(test: () => boolean, what: string, ms = 20_000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!test()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
