import { Agent, get as httpGet, request } from 'node:http';

/** One GET on a fresh connection (no keep-alive: each poll must reach whoever accepts now). */
export function getOnce(port: number, path = '/'): Promise<string | undefined> {
  return new Promise((resolve) => {
    const req = httpGet({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve(body));
      res.on('error', () => resolve(undefined));
    });
    req.on('error', () => resolve(undefined));
  });
}

/**
 * Continuous keep-alive HTTP load, as a service under reload sees it: `clients` loops,
 * each sending GET / one after another over a pooled connection. Node's agent does not
 * retry, so every dropped or reset request counts as a failure.
 */
export class Load {
  ok = 0;
  readonly failures: string[] = [];
  readonly seen = new Map<string, number>();
  #running = true;
  readonly #agent: Agent;
  readonly #loops: Promise<void>[] = [];

  constructor(
    private readonly port: number,
    clients = 8,
  ) {
    this.#agent = new Agent({ keepAlive: true, maxSockets: clients });
    for (let i = 0; i < clients; i++) this.#loops.push(this.#loop());
  }

  #once(): Promise<void> {
    return new Promise((resolve) => {
      const req = request({ host: '127.0.0.1', port: this.port, path: '/', agent: this.#agent }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => {
          if (res.statusCode === 200) {
            this.ok++;
            const version = body.replace(/ \(generation.*$/s, '');
            this.seen.set(version, (this.seen.get(version) ?? 0) + 1);
          } else this.failures.push(`status ${res.statusCode}: ${body.slice(0, 80)}`);
          resolve();
        });
        res.on('error', (error) => {
          this.failures.push(`response: ${error.message}`);
          resolve();
        });
      });
      req.on('error', (error) => {
        this.failures.push(`request: ${(error as NodeJS.ErrnoException).code ?? error.message}`);
        resolve();
      });
      req.end();
    });
  }

  async #loop(): Promise<void> {
    while (this.#running) await this.#once();
  }

  /** Resolves once a response with this version has been seen. */
  async until(version: string, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.seen.has(version)) {
      if (Date.now() > deadline) throw new Error(`never saw ${version}; seen: ${[...this.seen.keys()].join(', ')}`);
      await new Promise((r) => setImmediate(r));
    }
  }

  async stop(): Promise<void> {
    this.#running = false;
    await Promise.all(this.#loops);
    this.#agent.destroy();
  }
}
