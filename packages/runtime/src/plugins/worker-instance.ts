import { Worker, type ResourceLimits } from 'node:worker_threads';
import { pathToFileURL } from 'node:url';
import type { Manifest } from './manifest.js';

/**
 * The worker's own script, always the built JavaScript: a worker thread does not inherit
 * a TypeScript loader's hooks, so sources run through one (the tests) use dist/ too.
 */
const ENTRY = import.meta.url.endsWith('.ts') ? new URL('../../dist/plugins/worker-entry.js', import.meta.url) : new URL('./worker-entry.js', import.meta.url);

type Reply = { kind: 'reply'; id: number; value?: unknown; error?: string };
type Message = Reply | { kind: 'loaded'; exports?: { name: string; type: string }[]; error?: string } | { kind: 'log'; level: string; line: string };

/** A call that did not return in time: the worker is considered stuck and is replaced. */
export class PluginTimeout extends Error {
  override readonly name = 'PluginTimeout';
}

/**
 * One loaded version of a plugin in its own worker thread. Requests are messages with ids;
 * each has a timeout. If the worker dies (a throw nobody caught, process.exit, out of
 * memory), every open request fails with why and `onExit` hears it once.
 *
 * @example
 *   const instance = await WorkerInstance.load(dir, manifest, { maxOldGenerationSizeMb: 64 }, onExit, onLog, 5_000);
 *   await instance.request('init', {}, 5_000);
 *   await instance.request('call', { fn: 'hello', args: ['ada'] }, 1_000); // 'hello ada'
 *   await instance.terminate();
 */
export class WorkerInstance {
  #next = 1;
  readonly #open = new Map<number, { resolve(value: unknown): void; reject(error: Error): void; timer: NodeJS.Timeout }>();
  #ended: string | undefined;
  /** Calls under way: a retiring version is stopped once this is 0. */
  inFlight = 0;
  #idle: (() => void)[] = [];

  private constructor(
    private readonly worker: Worker,
    readonly exports: ReadonlyMap<string, string>,
  ) {}

  static load(
    dir: string,
    manifest: Manifest,
    limits: ResourceLimits,
    onExit: (why: string) => void,
    onLog: (level: string, line: string) => void,
    timeoutMs: number,
  ): Promise<WorkerInstance> {
    const main = pathToFileURL(`${dir}/${manifest.main}`).href;
    const worker = new Worker(ENTRY, { workerData: { main, name: manifest.name, version: manifest.version, config: manifest.config }, resourceLimits: limits, stdout: false, stderr: false });
    return new Promise((resolve, reject) => {
      let instance: WorkerInstance | undefined;
      const timer = setTimeout(() => {
        void worker.terminate();
        reject(new PluginTimeout(`loading ${manifest.main} took longer than ${timeoutMs} ms`));
      }, timeoutMs);
      worker.on('message', (message: Message) => {
        if (message.kind === 'log') return onLog(message.level, message.line);
        if (message.kind === 'loaded') {
          clearTimeout(timer);
          if (message.error !== undefined) return reject(new Error(`loading ${manifest.main}: ${message.error}`));
          instance = new WorkerInstance(worker, new Map((message.exports ?? []).map((e) => [e.name, e.type])));
          return resolve(instance);
        }
        if (instance !== undefined) instance.#settle(message);
      });
      const end = (why: string) => {
        clearTimeout(timer);
        if (instance === undefined) return reject(new Error(why));
        // terminate() ended it on purpose: nothing failed.
        if (instance.#ended !== undefined) return;
        instance.#end(why);
        onExit(why);
      };
      worker.on('error', (error) => end(`${error.name === 'Error' ? '' : `${error.name}: `}${error.message}`));
      worker.on('exit', (code) => end(code === 1 ? 'the worker stopped' : `the worker exited with code ${code}`));
    });
  }

  get ended(): string | undefined {
    return this.#ended;
  }

  #settle(reply: Reply): void {
    const open = this.#open.get(reply.id);
    if (open === undefined) return;
    this.#open.delete(reply.id);
    clearTimeout(open.timer);
    if (reply.error !== undefined) open.reject(new Error(reply.error));
    else open.resolve(reply.value);
  }

  #end(why: string): void {
    if (this.#ended !== undefined) return;
    this.#ended = why;
    for (const [id, open] of this.#open) {
      clearTimeout(open.timer);
      open.reject(new Error(`the plugin's worker ended: ${why}`));
      this.#open.delete(id);
    }
    this.inFlight = 0;
    for (const resolve of this.#idle.splice(0)) resolve();
  }

  request(op: string, fields: Record<string, unknown>, timeoutMs: number): Promise<unknown> {
    if (this.#ended !== undefined) return Promise.reject(new Error(`the plugin's worker ended: ${this.#ended}`));
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#open.delete(id);
        reject(new PluginTimeout(`${op}${fields.fn ? ` ${String(fields.fn)}` : ''} did not return within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#open.set(id, { resolve, reject, timer });
      this.worker.postMessage({ id, op, ...fields });
    });
  }

  /** A call, counted in flight so a retiring version finishes what it holds. */
  async call(fn: string, args: unknown[], timeoutMs: number): Promise<unknown> {
    this.inFlight += 1;
    try {
      return await this.request('call', { fn, args }, timeoutMs);
    } finally {
      this.inFlight = Math.max(0, this.inFlight - 1);
      if (this.inFlight === 0) for (const resolve of this.#idle.splice(0)) resolve();
    }
  }

  /** Resolves once no call is in flight. */
  idle(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  /** Ends the thread: its heap, module and timers are gone. */
  async terminate(): Promise<void> {
    this.#ended ??= 'unloaded';
    await this.worker.terminate();
  }
}
