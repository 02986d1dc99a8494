import { fork, spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker, type ResourceLimits } from 'node:worker_threads';
import { dirname, resolve } from 'node:path';
import { enlist, runAs } from './containment.js';
import { InlineModules } from './inline-loader.js';
import type { Manifest } from './manifest.js';
import { intoCgroup, pluginCgroup } from './cgroup.js';
import { openBridges } from './net-bridge.js';
import type { Permissions } from './permissions.js';
import { bubblewrap, sandboxCommand } from './sandbox.js';
import { watchResources } from './watchdog.js';
import { runPlugin, type PluginData } from './plugin-side.js';

/**
 * The plugin side's scripts, always the built JavaScript: a worker thread does not inherit
 * a TypeScript loader's hooks, so sources run through one (the tests) use dist/ too.
 */
const entry = (file: string) => (import.meta.url.endsWith('.ts') ? new URL(`../../dist/plugins/${file}`, import.meta.url) : new URL(`./${file}`, import.meta.url));

/** What one version runs in: a worker thread, or a child process. */
interface Channel {
  post(message: unknown): void;
  /** Ends it at once (worker.terminate, SIGKILL). */
  kill(): Promise<void>;
}

type Events = { message(m: Message): void; end(why: string): void };

/**
 * inline: the plugin side in the host's own thread, its modules in a registry of their
 * own (InlineModules) that is dropped at unload, messages passed on the microtask queue
 * (by reference: nothing is cloned). A throw of its code that nobody catches (in a timer,
 * an I/O callback, a promise, an 'error' event, a socket it opened) ends this version
 * only; an endless loop, or memory it holds, would stop the host too: inline is for
 * trusted code.
 */
function openInline(dir: string, data: PluginData, events: Events): Channel {
  let deliver: ((message: unknown) => void) | undefined;
  let ended = false;
  /** This version is over (unloaded, or a throw of its code escaped): no more messages either way, and its modules go. */
  const end = () => {
    ended = true;
    deliver = undefined;
    leave();
    modules.release();
  };
  const failed = (error: unknown, how: string) => {
    if (ended) return;
    end();
    events.end(`${how} ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`);
  };
  // Any throw of its code that nobody catches ends this version only (containment.ts).
  const owner = { root: resolve(dir), fail: failed };
  const leave = enlist(owner);
  const modules = new InlineModules(dir, (error) => failed(error, 'a timer callback threw'));
  const loader = { load: async (main: string) => modules.load(fileURLToPath(main)) as Record<string, unknown>, timers: modules.timers, leftovers: () => modules.pending() };
  const port = {
    post: (message: unknown) => queueMicrotask(() => (ended ? undefined : events.message(message as Message))),
    onMessage: (handler: (message: unknown) => void) => (deliver = handler),
  };
  // A load that fails is posted as 'loaded' with its error; nothing else is left to catch.
  runAs(owner, () => runPlugin(port, data, loader)).catch(() => undefined);
  return {
    post: (message) => queueMicrotask(() => runAs(owner, () => deliver?.(message))),
    kill: async () => end(),
  };
}

/**
 * Hands a plugin process's messages and end to `events`; `breached` says why the host
 * stopped it (a resource limit), which wins over how it exited.
 */
function wireChild(child: ChildProcess, events: Events, breached: () => string | undefined, cleanup: () => Promise<void> | void): Channel {
  // The last lines it wrote to stderr say why it ended (an uncaught throw's message).
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr = (stderr + chunk).slice(-4096)));
  child.on('message', (m: Message) => events.message(m));
  child.on('error', (error) => events.end(error.message));
  child.on('exit', (code, signal) => {
    // Why it ended is read before its traces (a cgroup's counters) are removed.
    const breach = breached();
    void cleanup();
    if (breach !== undefined) return events.end(breach);
    const said = stderr.split('\n').map((l) => l.trim()).filter((l) => /^\w*Error\b|^Uncaught|heap out of memory|^bwrap:/.test(l)).at(-1);
    events.end(`the plugin process ${signal ? `was killed by ${signal}` : `exited with code ${code}`}${said ? `: ${said}` : ''}`);
  });
  return {
    post: (message) => {
      if (child.connected) child.send(message as never);
    },
    kill: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const gone = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await gone;
    },
  };
}

/**
 * A plugin process with a permissions block: started by the spawn hook of sandbox.ts
 * (bubblewrap around Node's permission model), its granted connections carried by
 * net-bridge.ts, its memory and CPU watched from outside. Without a working bubblewrap it
 * is refused with the reason: never run unconfined.
 */
async function openSandboxed(dir: string, data: PluginData, limits: PluginLimits, events: Events, permissions: Permissions): Promise<Channel> {
  const sandbox = bubblewrap();
  if ('missing' in sandbox) throw new Error(`its permissions need a sandbox, and ${sandbox.missing}; refused rather than run unconfined`);
  const bridges = permissions.connect.length > 0 ? await openBridges(permissions.connect) : undefined;
  const entryFile = fileURLToPath(entry('process-entry.js'));
  const runtimeDir = resolve(dirname(entryFile), '..', '..');
  const spec = { entry: entryFile, runtimeDir, pluginDir: resolve(dir), permissions, ...(bridges === undefined ? {} : { bridgeDir: bridges.dir }), ...(limits.maxOldGenerationSizeMb === undefined ? {} : { heapMb: limits.maxOldGenerationSizeMb }) };
  const sandboxed = sandboxCommand(spec, sandbox.path);
  // The kernel keeps memory and CPU where it lets us make cgroups; the watchdog elsewhere.
  const cgroup = pluginCgroup(permissions);
  const { command, args } = cgroup === undefined ? sandboxed : intoCgroup(cgroup.procs, sandboxed.command, sandboxed.args);
  // Nothing of the host's environment (its secrets) goes in: only what the plugin side reads.
  const env: Record<string, string> = { AIRLOCK_PLUGIN_DATA: JSON.stringify(data), ...(bridges === undefined ? {} : { AIRLOCK_PLUGIN_BRIDGES: JSON.stringify(bridges.list) }) };
  const child = spawn(command, args, { env, serialization: 'advanced', stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
  let breach: string | undefined;
  const stopWatching =
    child.pid === undefined || cgroup !== undefined
      ? () => undefined
      : watchResources(child.pid, permissions, (why) => {
          breach = why;
          child.kill('SIGKILL');
        });
  const oom = () => (cgroup?.oomKilled() ? `ran out of memory: the kernel stopped it at its ${cgroup.kind} limit, permissions.memoryMB ${permissions.memoryMB}` : undefined);
  return wireChild(child, events, () => breach ?? oom(), async () => {
    stopWatching();
    await bridges?.close();
    await cgroup?.remove();
  });
}

/** A channel still being opened (a sandbox's bridges first): used as one at once; a failure to open ends it. */
function opening(channel: Promise<Channel>, events: Events): Channel {
  let ready: Channel | undefined;
  let killed = false;
  const queued: unknown[] = [];
  channel.then(
    (opened) => {
      ready = opened;
      if (killed) return void opened.kill();
      for (const message of queued.splice(0)) opened.post(message);
    },
    (error: unknown) => events.end((error as Error).message),
  );
  return {
    post: (message) => (ready === undefined ? void queued.push(message) : ready.post(message)),
    kill: async () => {
      killed = true;
      await ready?.kill();
    },
  };
}

/** Starts one version's thread or process (or inline registry); `events` hears its messages and its end. */
function open(manifest: Manifest, dir: string, data: PluginData, limits: PluginLimits, events: Events): Channel | Promise<Channel> {
  const { isolation, permissions } = manifest;
  if (isolation === 'inline') return openInline(dir, data, events);
  if (isolation === 'process') {
    if (permissions !== undefined) return openSandboxed(dir, data, limits, events, permissions);
    const child = fork(fileURLToPath(entry('process-entry.js')), [], {
      env: { ...process.env, AIRLOCK_PLUGIN_DATA: JSON.stringify(data) },
      execArgv: limits.maxOldGenerationSizeMb ? [`--max-old-space-size=${limits.maxOldGenerationSizeMb}`] : [],
      serialization: 'advanced',
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    return wireChild(child, events, () => undefined, () => undefined);
  }
  const { maxExternalMb = DEFAULT_EXTERNAL_MB, ...heapLimits } = limits;
  const worker = new Worker(entry('worker-entry.js'), { workerData: data, resourceLimits: heapLimits, stdout: false, stderr: false });
  worker.on('message', (m: Message) => {
    if (m.kind !== 'memory') return events.message(m);
    // The thread's own figure for what lives outside its heap: past the limit it ends, as a heap out of memory would.
    const mb = m.external / 2 ** 20;
    if (mb <= maxExternalMb) return;
    events.end(`ran out of memory: ${Math.round(mb)} MB outside the JS heap (Buffers, ArrayBuffers; limit ${maxExternalMb} MB, resourceLimits.maxExternalMb)`);
    void worker.terminate();
  });
  worker.on('error', (error) => events.end(`${error.name === 'Error' ? '' : `${error.name}: `}${error.message}`));
  worker.on('exit', (code) => events.end(code === 1 ? 'the worker stopped' : `the worker exited with code ${code}`));
  return {
    post: (message) => worker.postMessage(message),
    kill: async () => void (await worker.terminate()),
  };
}

type Reply = { kind: 'reply'; id: number; value?: unknown; error?: string };
type Message =
  | Reply
  | { kind: 'loaded'; exports?: { name: string; type: string }[]; error?: string }
  | { kind: 'log'; level: string; line: string }
  | { kind: 'memory'; external: number };

/** Memory a worker may hold outside its JS heap (Buffers, ArrayBuffers) when resourceLimits.maxExternalMb does not say. */
export const DEFAULT_EXTERNAL_MB = 256;

/** The worker's limits: resourceLimits for its heap, and maxExternalMb for what lies outside it. */
export type PluginLimits = ResourceLimits & { readonly maxExternalMb?: number };

/** A call that did not return in time: the worker is considered stuck and is replaced. */
export class PluginTimeout extends Error {
  override readonly name = 'PluginTimeout';
}

/**
 * One loaded version of a plugin in its own worker thread (or child process). Requests are
 * messages with ids; each has a timeout. If it dies (a throw nobody caught, process.exit,
 * out of memory), every open request fails with why and `onExit` hears it once.
 *
 * @example
 *   const instance = await PluginInstance.load(dir, manifest, { maxOldGenerationSizeMb: 64 }, onExit, onLog, 5_000);
 *   await instance.request('init', {}, 5_000);
 *   await instance.request('call', { fn: 'hello', args: ['ada'] }, 1_000); // 'hello ada'
 *   await instance.terminate();
 */
export class PluginInstance {
  #next = 1;
  readonly #open = new Map<number, { resolve(value: unknown): void; reject(error: Error): void; timer: NodeJS.Timeout }>();
  #ended: string | undefined;
  /** Calls under way: a retiring version is stopped once this is 0. */
  inFlight = 0;
  #idle: (() => void)[] = [];

  private constructor(
    private readonly channel: Channel,
    readonly exports: ReadonlyMap<string, string>,
    /** "worker" or "process", for messages. */
    private readonly kind: string,
  ) {}

  static load(
    dir: string,
    manifest: Manifest,
    limits: PluginLimits,
    onExit: (why: string) => void,
    onLog: (level: string, line: string) => void,
    timeoutMs: number,
  ): Promise<PluginInstance> {
    const main = pathToFileURL(`${dir}/${manifest.main}`).href;
    const data = { main, name: manifest.name, version: manifest.version, config: manifest.config };
    return new Promise((resolve, reject) => {
      let instance: PluginInstance | undefined;
      let ended = false;
      const events: Events = {
        message: (message) => {
          if (message.kind === 'log') return onLog(message.level, message.line);
          if (message.kind === 'loaded') {
            clearTimeout(timer);
            if (message.error !== undefined) return reject(new Error(`loading ${manifest.main}: ${message.error}`));
            instance = new PluginInstance(channel, new Map((message.exports ?? []).map((e) => [e.name, e.type])), manifest.isolation === 'inline' ? 'inline version' : manifest.isolation);
            return resolve(instance);
          }
          if (instance !== undefined && message.kind === 'reply') instance.#settle(message);
        },
        end: (why) => {
          // A worker reports an error and then its exit: the first one says why.
          if (ended) return;
          ended = true;
          clearTimeout(timer);
          if (instance === undefined) return reject(new Error(why));
          // terminate() ended it on purpose: nothing failed.
          if (instance.#ended !== undefined) return;
          instance.#end(why);
          onExit(why);
        },
      };
      const opened = open(manifest, dir, data, limits, events);
      const channel = opened instanceof Promise ? opening(opened, events) : opened;
      const timer = setTimeout(() => {
        void channel.kill();
        reject(new PluginTimeout(`loading ${manifest.main} took longer than ${timeoutMs} ms`));
      }, timeoutMs);
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
      open.reject(new Error(`the plugin's ${this.kind} ended: ${why}`));
      this.#open.delete(id);
    }
    this.inFlight = 0;
    for (const resolve of this.#idle.splice(0)) resolve();
  }

  request(op: string, fields: Record<string, unknown>, timeoutMs: number): Promise<unknown> {
    if (this.#ended !== undefined) return Promise.reject(new Error(`the plugin's ${this.kind} ended: ${this.#ended}`));
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#open.delete(id);
        reject(new PluginTimeout(`${op}${fields.fn ? ` ${String(fields.fn)}` : ''} did not return within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#open.set(id, { resolve, reject, timer });
      this.channel.post({ id, op, ...fields });
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

  /** Ends the thread (or process): its heap, module and timers are gone. */
  async terminate(): Promise<void> {
    this.#ended ??= 'unloaded';
    await this.channel.kill();
  }
}
