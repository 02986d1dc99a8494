import { createServer } from 'node:net';
import type { ServicePlan } from '../config/plan.js';
import { HttpProxy } from '../proxy/http-proxy.js';
import { boundPort } from '../proxy/listen.js';
import { ProxyWorkers, type HttpFront } from '../proxy/workers.js';
import { TcpProxy } from '../proxy/tcp-proxy.js';
import type { TrafficSplit } from '../proxy/split.js';
import type { Handoff, Launch, ProbeFactory } from './handoff.js';
import type { HandoffHooks } from './create.js';
import { isAlive } from '../supervise/proc.js';
import type { Supervised } from '../supervise/spawn.js';

/** A loopback port nobody listens on right now, for a generation's private address. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = boundPort(server);
      server.close(() => resolve(port));
    });
  });
}

/**
 * `proxy` and `tcp-proxy`: airlock serves `listen`; each generation listens on a private
 * loopback port given in PORT, is probed there, and gets new requests (or connections)
 * once it is ready. The old one finishes what it holds, up to stop.drain.
 */
export class ProxyHandoff implements Handoff {
  readonly stopsFirst = false;
  readonly proxy: HttpFront | TcpProxy;
  readonly split?: (split: TrafficSplit | undefined) => void;

  private readonly probeFor: ProbeFactory;

  constructor(plan: ServicePlan, mode: 'proxy' | 'tcp-proxy', hooks: HandoffHooks) {
    this.probeFor = hooks.probeFor;
    const listen = plan.listen as NonNullable<ServicePlan['listen']>;
    const options = { service: plan.name, host: listen.host, port: listen.port, holdMs: plan.proxy.holdMs, onError: hooks.onProxyError };
    if (mode === 'proxy') {
      const settings = { ...options, debugHeaders: hooks.debugHeaders ?? (() => false), onNotice: hooks.onNotice, extensions: hooks.proxyExtensions };
      // Extensions (live reload) live in this process: their pages are answered here alone.
      const workers = hooks.proxyExtensions === undefined ? (hooks.proxyWorkers ?? 1) : 1;
      const proxy = workers > 1 ? new ProxyWorkers(settings, workers) : new HttpProxy(settings);
      this.proxy = proxy;
      this.split = (split) => proxy.setSplit(split);
    } else {
      const workers = hooks.proxyWorkers ?? 1;
      this.proxy = workers > 1 ? new ProxyWorkers(options, workers, 'tcp') : new TcpProxy(options);
    }
  }

  open(): Promise<void> {
    return this.proxy.listen();
  }

  async launch(): Promise<Launch> {
    const port = await freePort();
    const env = { PORT: String(port) };
    const probe = this.probeFor({ host: '127.0.0.1', port }, true, env);
    let child: Supervised | undefined;
    return {
      env,
      extraFds: [],
      listenPid: false,
      backendPort: port,
      readiness: async () => ({ probe, settleMs: 0 }),
      promote: (promoted) => (child = promoted),
      alive: () => child === undefined || (child.end === undefined && isAlive(child.pid)),
      pid: () => child?.pid,
      release: () => undefined,
    };
  }

  route(generation: number | undefined, launch: Launch | undefined): void {
    if (generation === undefined || launch?.backendPort === undefined) this.proxy.setActive(undefined);
    else this.proxy.setActive({ generation, host: '127.0.0.1', port: launch.backendPort, alive: launch.alive, pid: launch.pid });
  }

  unavailable(reason: string): void {
    this.proxy.setUnavailable(reason);
  }

  /**
   * proxy: new requests already go to the new generation; wait until the old one has
   * answered what it holds (and its WebSockets closed), up to stop.drain.
   * tcp-proxy: connections cannot be moved, so the old generation gets its stop signal at
   * once (with proxy workers, once every worker sends new connections elsewhere) and closes
   * them itself as it drains (the helpers answer with Connection: close); the proxy drops
   * its side when the generation's side closes.
   */
  async retire(generation: number, drainMs: number): Promise<void> {
    if (this.proxy instanceof TcpProxy) return;
    // TCP on several processes: the old generation may stop once no worker sends it new connections.
    if (this.proxy instanceof ProxyWorkers && this.proxy.kind === 'tcp') return this.proxy.settled();
    await this.proxy.retire(generation, drainMs);
  }

  async quiesce(drainMs: number): Promise<void> {
    if (!(this.proxy instanceof TcpProxy)) await this.proxy.quiesce(drainMs);
  }

  close(): Promise<void> {
    return this.proxy.close();
  }

  destroy(): void {
    this.proxy.destroy();
  }
}
