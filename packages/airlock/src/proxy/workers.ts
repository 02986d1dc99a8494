import { fork, type ChildProcess } from 'node:child_process';
import { channel } from 'node:diagnostics_channel';
import { fileURLToPath } from 'node:url';
import { drainingNotice, HttpProxy, PROXY_REQUEST_CHANNEL, PROXY_RESPONSE_CHANNEL, type HttpProxyOptions, type ProxyRequest, type ProxyResponse } from './http-proxy.js';
import type { Backend } from './backends.js';
import type { TrafficSplit } from './split.js';
import { TcpProxy } from './tcp-proxy.js';
import { REQUEST_FIELDS, RESPONSE_FIELDS, type FromWorker, type ProxyKind, type ToWorker, type WireBackend } from './worker-protocol.js';

const WORKER = fileURLToPath(new URL('./worker-main.js', import.meta.url));
/** How often a change of rollout.debugHeaders (read per request in this process) is passed on. */
const SETTINGS_MS = 1_000;
/** A worker that dies is started again after this, doubled per death in a row (at most 10 s). */
const RESPAWN_MS = 200;

const requests = channel(PROXY_REQUEST_CHANNEL);
const responses = channel(PROXY_RESPONSE_CHANNEL);

/** What every HTTP front door does, in one process or several (ProxyHandoff holds one). */
export type HttpFront = Pick<HttpProxy, 'listen' | 'address' | 'setActive' | 'setUnavailable' | 'active' | 'setSplit' | 'quiesce' | 'close' | 'destroy'> & {
  retire(generation: number, drainMs: number): Promise<boolean>;
};

interface Worker {
  readonly index: number;
  child: ChildProcess;
  /** Answers awaited by id (retire, quiesce, close). */
  readonly waiting: Map<number, (message: Extract<FromWorker, { type: 'done' }> | undefined) => void>;
}

/**
 * The `proxy` (or `tcp-proxy`) handoff on several cores (proxy.workers): airlock's own
 * process serves as one worker and N-1 worker processes accept on the same listening
 * socket (the kernel gives each connection to one of them). Each worker routes alike: the
 * same active generation, the same split (a user's bucket is the same in every worker),
 * told in order over one IPC channel. A swap stays atomic across them: the old generation
 * is retired only once every worker has left it and finished what it sent there (for TCP,
 * whose connections cannot move, once every worker sends new ones to the new generation:
 * settled()). HTTP workers send what they answered in batches, published here on the same
 * diagnostics channels (the canary's windows, metrics and fleet heartbeats merge every
 * worker's figures).
 *
 * @example
 *   const proxy = new ProxyWorkers({ service: 'api', host: '127.0.0.1', port: 8080, holdMs: 30_000, onError: console.error }, 4);
 *   await proxy.listen();
 *   proxy.setActive({ generation: 2, host: '127.0.0.1', port: 41234 });
 *   await proxy.retire(1, 30_000); // every worker has left g1 and finished its requests there
 */
export class ProxyWorkers implements HttpFront {
  readonly #own: HttpProxy | TcpProxy;
  readonly #workers: Worker[] = [];
  #nextId = 0;
  #closed = false;
  #deaths = 0;
  /** What a worker started again is told first, so it routes as the others do. */
  #backend: WireBackend | undefined;
  #unavailable: string | undefined;
  #split: ToWorker & { type: 'split' } = { type: 'split', split: undefined };
  #debugHeaders = false;
  readonly #settings: NodeJS.Timeout;

  constructor(
    private readonly options: HttpProxyOptions,
    /** Processes in all, this one included (2 or more). */
    readonly workers: number,
    readonly kind: ProxyKind = 'http',
  ) {
    this.#own = kind === 'tcp' ? new TcpProxy(options) : new HttpProxy(options);
    this.#debugHeaders = options.debugHeaders?.() ?? false;
    this.#settings = setInterval(() => {
      const on = options.debugHeaders?.() ?? false;
      if (on !== this.#debugHeaders) this.#broadcast({ type: 'debugHeaders', on: (this.#debugHeaders = on) });
    }, SETTINGS_MS).unref();
  }

  async listen(): Promise<void> {
    await this.#own.listen();
    await Promise.all(Array.from({ length: this.workers - 1 }, (_, i) => this.#start(i + 1)));
  }

  /** Worker processes' pids (for status and tests). */
  get pids(): number[] {
    return this.#workers.flatMap((worker) => (worker.child.pid === undefined || worker.child.exitCode !== null ? [] : [worker.child.pid]));
  }

  get address(): { host: string; port: number } {
    return this.#own.address;
  }

  get active(): Backend | undefined {
    return this.#own.active;
  }

  setActive(backend: Backend | undefined): void {
    this.#own.setActive(backend);
    this.#backend = backend === undefined ? undefined : wire(backend);
    this.#broadcast({ type: 'active', backend: this.#backend });
  }

  setUnavailable(reason: string): void {
    this.#own.setUnavailable(reason);
    this.#unavailable = reason;
    this.#broadcast({ type: 'unavailable', reason });
  }

  /** A split that cannot be made in another process (no portable()) would make workers disagree: refused. */
  setSplit(split: TrafficSplit | undefined): void {
    if (this.#own instanceof TcpProxy) throw new Error('tcp-proxy does not split traffic: a canary needs handoff: proxy');
    const portable = split?.portable?.();
    if (split !== undefined && portable === undefined) throw new Error('proxy.workers: this traffic split cannot be shared with worker processes (it has no portable())');
    this.#own.setSplit(split);
    this.#split = { type: 'split', split: split === undefined || portable === undefined ? undefined : { ...portable, canary: wire(split.canary) } };
    this.#broadcast(this.#split);
  }

  /** Every worker has left `generation` and finished (or cut, past drainMs) what it had there; true when all drained in time. */
  async retire(generation: number, drainMs: number): Promise<boolean> {
    // One notice for all workers: what the user waits for, not how it is spread.
    const counts = [this.#own.longLived(generation), ...(await Promise.all(this.#workers.map((worker) => this.#ask(worker, { type: 'count', id: ++this.#nextId, generation })))).map((answer) => answer?.longLived)];
    const total = { websockets: 0, streams: 0, others: 0 };
    for (const count of counts) {
      total.websockets += count?.websockets ?? 0;
      total.streams += count?.streams ?? 0;
      total.others += count?.others ?? 0;
    }
    const notice = drainingNotice(generation, total, drainMs);
    if (notice !== undefined) this.options.onNotice?.(notice);
    const answers = await Promise.all([this.#own.retire(generation, drainMs, { quiet: true }), ...this.#workers.map((worker) => this.#ask(worker, { type: 'retire', id: ++this.#nextId, generation, drainMs }))]);
    return answers.every((answer) => answer === true || (typeof answer === 'object' && answer.drained !== false));
  }

  /** Resolves once every worker has taken in everything told so far (a new active generation above all). */
  async settled(): Promise<void> {
    await Promise.all(this.#workers.map((worker) => this.#ask(worker, { type: 'sync', id: ++this.#nextId })));
  }

  async quiesce(ms: number): Promise<void> {
    // airlock is stopping: a worker that dies now is not started again (the socket is closing).
    this.#closed = true;
    await Promise.all([this.#own.quiesce(ms), ...this.#workers.map((worker) => this.#ask(worker, { type: 'quiesce', id: ++this.#nextId, ms }))]);
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#settings);
    await Promise.all([this.#own.close(), ...this.#workers.map((worker) => this.#ask(worker, { type: 'close', id: ++this.#nextId }).then(() => this.#ended(worker)))]);
  }

  destroy(): void {
    this.#closed = true;
    clearInterval(this.#settings);
    this.#own.destroy();
    for (const worker of this.#workers) worker.child.kill('SIGKILL');
  }

  #start(index: number): Promise<void> {
    const child = fork(WORKER, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'advanced' });
    const existing = this.#workers.find((worker) => worker.index === index);
    const worker: Worker = existing ?? { index, child, waiting: new Map() };
    worker.child = child;
    if (existing === undefined) this.#workers.push(worker);
    child.on('message', (message: FromWorker) => this.#heard(worker, message));
    child.on('error', (error) => this.options.onError(`proxy worker ${index}: ${error.message}`));
    child.once('exit', (code, signal) => this.#exited(worker, child, code, signal));
    const serve: ToWorker = { type: 'serve', kind: this.kind, service: this.options.service, holdMs: this.options.holdMs, index, debugHeaders: this.#debugHeaders };
    return new Promise<void>((resolve, reject) => {
      const failed = (code: number | null) => reject(new Error(`proxy worker ${index} exited (code ${code}) before it served`));
      child.once('exit', failed);
      const serving = (message: FromWorker) => {
        if (message.type !== 'serving') return;
        child.off('message', serving);
        child.off('exit', failed);
        resolve();
      };
      child.on('message', serving);
      child.send(serve, this.#own.listener);
      // Told in the order the others were: an unavailable reason, the active generation, the split.
      if (this.#unavailable !== undefined) child.send({ type: 'unavailable', reason: this.#unavailable } satisfies ToWorker);
      if (this.#backend !== undefined) child.send({ type: 'active', backend: this.#backend } satisfies ToWorker);
      if (this.#split.split !== undefined) child.send(this.#split);
    });
  }

  #heard(worker: Worker, message: FromWorker): void {
    switch (message.type) {
      case 'serving':
        this.#deaths = 0;
        return;
      case 'done':
        worker.waiting.get(message.id)?.(message);
        worker.waiting.delete(message.id);
        return;
      case 'error':
        return this.options.onError(`[worker ${worker.index}] ${message.message}`);
      case 'notice':
        return this.options.onNotice?.(message.message);
      case 'records':
        return this.#publish(message);
    }
  }

  /** A worker's figures, as if this process had answered them: every subscriber sees all workers. */
  #publish({ requests: sent, responses: answered }: Extract<FromWorker, { type: 'records' }>): void {
    const service = this.options.service;
    if (requests.hasSubscribers) {
      for (let i = 0; i < sent.length; i += REQUEST_FIELDS) {
        requests.publish({ service, generation: sent[i] as number, id: sent[i + 1] as number, forced: sent[i + 2] === 1 } satisfies ProxyRequest);
      }
    }
    if (responses.hasSubscribers) {
      for (let i = 0; i < answered.length; i += RESPONSE_FIELDS) {
        const flags = answered[i + 3] as number;
        const id = answered[i + 4] as number;
        const response: ProxyResponse = {
          service,
          generation: answered[i] as number,
          status: answered[i + 1] as number,
          ms: answered[i + 2] as number,
          ...(flags & 1 ? { forced: true } : {}),
          ...(flags & 2 ? { clientAborted: true } : {}),
          ...(id === -1 ? {} : { id }),
        };
        responses.publish(response);
      }
    }
  }

  #ask(worker: Worker, message: ToWorker & { id: number }): Promise<Extract<FromWorker, { type: 'done' }> | undefined> {
    if (!worker.child.connected) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      worker.waiting.set(message.id, resolve);
      worker.child.send(message);
    });
  }

  #broadcast(message: ToWorker): void {
    for (const worker of this.#workers) if (worker.child.connected) worker.child.send(message);
  }

  #ended(worker: Worker): Promise<void> {
    if (worker.child.exitCode !== null || worker.child.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => worker.child.once('exit', () => resolve()));
  }

  /** A worker that died mid-service: what it held is lost with it (its clients see resets); the others serve on, and it is started again. */
  #exited(worker: Worker, child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (worker.child !== child) return;
    // Whatever it was asked is answered: it holds nothing any more.
    for (const resolve of worker.waiting.values()) resolve(undefined);
    worker.waiting.clear();
    if (this.#closed) return;
    const delay = Math.min(RESPAWN_MS * 2 ** this.#deaths++, 10_000);
    this.options.onError(`proxy worker ${worker.index} (pid ${child.pid}) exited (${signal ?? `code ${code}`}); the other workers serve on, and it starts again in ${delay} ms`);
    setTimeout(() => {
      if (!this.#closed) this.#start(worker.index).catch((error: Error) => this.options.onError(error.message));
    }, delay).unref();
  }
}

function wire(backend: Backend): WireBackend {
  const pid = backend.pid?.();
  return { generation: backend.generation, host: backend.host, port: backend.port, ...(pid === undefined ? {} : { pid }) };
}
