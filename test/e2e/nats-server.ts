import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePorts } from './helpers.ts';

/**
 * A real nats-server (Debian's) with JetStream on a free loopback port and a temp store
 * directory, ended by its pid in the test's after hook. `stop()` and `start()` again keep
 * the port and the store: a server that went away and came back.
 */
export class NatsServer {
  #child: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();
  #log = '';

  private constructor(
    readonly port: number,
    readonly storeDir: string,
    /** For a cluster node: its name, its route port and its peers' route ports. */
    private readonly cluster?: { readonly name: string; readonly routePort: number; readonly peers: readonly number[] },
    /** A configuration file (users and permissions); the flags still set the port, JetStream and store. */
    private readonly configFile?: string,
  ) {}

  /** One server; `cleanup` ends it (by pid) and removes its store after the test. `config`: nats-server.conf text. */
  static async single(cleanup: (...steps: (() => unknown)[]) => void, config?: string): Promise<NatsServer> {
    const [port] = await freePorts(1);
    const storeDir = mkdtempSync(join(tmpdir(), 'airlock-nats-'));
    let configFile: string | undefined;
    if (config !== undefined) {
      configFile = join(storeDir, 'nats-server.conf');
      writeFileSync(configFile, config);
    }
    const server = new NatsServer(port as number, storeDir, undefined, configFile);
    cleanup(() => server.end());
    await server.start();
    return server;
  }

  /** Three servers routed to each other (JetStream replicas 3 possible), started together. */
  static async cluster(cleanup: (...steps: (() => unknown)[]) => void): Promise<NatsServer[]> {
    const ports = await freePorts(6);
    const routes = ports.slice(3);
    const nodes = [0, 1, 2].map((i) => new NatsServer(ports[i] as number, mkdtempSync(join(tmpdir(), 'airlock-nats-')), { name: `n${i + 1}`, routePort: routes[i] as number, peers: routes.filter((_, j) => j !== i) }));
    for (const node of nodes) cleanup(() => node.end());
    await Promise.all(nodes.map((node) => node.start()));
    return nodes;
  }

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** What the server logged (the last 64 KiB): permission violations show here. */
  get log(): string {
    return this.#log;
  }

  /** Starts it (again); resolves once it says it is ready for connections. */
  start(): Promise<void> {
    const args = [...(this.configFile === undefined ? [] : ['-c', this.configFile]), '-js', '-a', '127.0.0.1', '-p', String(this.port), '-sd', this.storeDir];
    if (this.cluster) {
      args.push('-n', this.cluster.name, '--cluster_name', 'airlock-test', '--cluster', `nats://127.0.0.1:${this.cluster.routePort}`, '--routes', this.cluster.peers.map((port) => `nats://127.0.0.1:${port}`).join(','));
    }
    const child = spawn('nats-server', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    this.#child = child;
    this.#exited = new Promise((resolve) => child.once('exit', () => resolve()));
    return new Promise((resolve, reject) => {
      let said = '';
      child.stderr?.setEncoding('utf8');
      child.stderr?.on('data', (chunk: string) => {
        this.#log = (this.#log + chunk).slice(-65_536);
        said = (said + chunk).slice(-4000);
        if (said.includes('Server is ready')) resolve();
      });
      child.once('exit', (code) => reject(new Error(`nats-server exited (${code}) before it was ready: ${said}`)));
      child.once('error', reject);
    });
  }

  /** Stops it (SIGTERM, then SIGKILL after 5 s) and waits until it is gone. */
  async stop(): Promise<void> {
    const child = this.#child;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await this.#exited;
    clearTimeout(timer);
  }

  async end(): Promise<void> {
    await this.stop();
    rmSync(this.storeDir, { recursive: true, force: true });
  }
}
