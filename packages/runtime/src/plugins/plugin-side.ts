import { inspect } from 'node:util';

/**
 * The plugin's side of one loaded version, inside its worker thread or child process (or,
 * inline, in the host's thread): loads its module, hands init(ctx) a context whose
 * resources are cleaned up in reverse order at stop, and answers the host's requests over
 * `transport`. A fresh thread, process or module registry per version: ending it frees
 * the module, its closures and its timers for good (no module cache to leak into).
 */
interface Request {
  readonly id: number;
  readonly op: 'init' | 'call' | 'health' | 'snapshot' | 'restore' | 'stop';
  readonly fn?: string;
  readonly args?: unknown[];
  readonly state?: unknown;
}

/** How the plugin side talks to its host: a worker's parentPort, or a child's IPC channel. */
export interface Transport {
  post(message: unknown): void;
  onMessage(handler: (message: unknown) => void): void;
}

/** What the host tells a new version. */
export interface PluginData {
  readonly main: string;
  readonly name: string;
  readonly version: string;
  readonly config: Record<string, unknown>;
}

/** How a version's module is loaded, and the timers its context hands out. */
export interface PluginLoader {
  load(main: string): Promise<Record<string, unknown>>;
  readonly timers: { setTimeout: typeof setTimeout; setInterval: typeof setInterval; clearTimeout: typeof clearTimeout; clearInterval: typeof clearInterval };
  /** What the plugin still runs outside its context once stopped, for the stopped event's leftovers. */
  leftovers(): string[];
}

/**
 * The loader of a thread or process of its own (worker, process isolation): import(),
 * since ending the thread or process frees the module anyway. Intervals made outside the
 * context die with it too; counting them (the global setInterval is the plugin's own
 * here) lets stop() say what the plugin left behind.
 */
export function ownThreadLoader(): PluginLoader {
  const strayTimers = new Set<ReturnType<typeof setInterval>>();
  const realSetInterval = globalThis.setInterval;
  const realClearInterval = globalThis.clearInterval;
  globalThis.setInterval = ((fn: (...a: unknown[]) => void, ms?: number, ...rest: unknown[]) => {
    const handle = realSetInterval(fn, ms, ...rest);
    strayTimers.add(handle);
    return handle;
  }) as typeof setInterval;
  globalThis.clearInterval = ((handle: ReturnType<typeof setInterval> | undefined) => {
    if (handle !== undefined) strayTimers.delete(handle);
    realClearInterval(handle);
  }) as typeof clearInterval;
  return {
    load: async (main) => (await import(main)) as Record<string, unknown>,
    timers: { setTimeout, setInterval: realSetInterval, clearTimeout, clearInterval: realClearInterval },
    leftovers: () => (strayTimers.size > 0 ? [`${strayTimers.size} interval(s) set outside ctx.setInterval were still running (cleared with the worker)`] : []),
  };
}

export async function runPlugin(port: Transport, { main, name, version, config }: PluginData, loader: PluginLoader): Promise<void> {
  type Cleanup = { readonly what: string; readonly run: () => unknown };
  const cleanups: Cleanup[] = [];
  const timers = loader.timers;

  const log = (level: string, parts: unknown[]) => port.post({ kind: 'log', level, line: parts.map((p) => (typeof p === 'string' ? p : inspect(p))).join(' ') });

  /** What init(ctx) gets: everything it takes through here is released at stop, newest first. */
  const context = {
    name,
    version,
    config,
    log: { info: (...parts: unknown[]) => log('info', parts), warn: (...parts: unknown[]) => log('warn', parts), error: (...parts: unknown[]) => log('error', parts) },
    setTimeout(fn: () => void, ms: number) {
      const handle = timers.setTimeout(fn, ms);
      cleanups.push({ what: 'timeout', run: () => timers.clearTimeout(handle) });
      return handle;
    },
    setInterval(fn: () => void, ms: number) {
      const handle = timers.setInterval(fn, ms);
      cleanups.push({ what: 'interval', run: () => timers.clearInterval(handle) });
      return handle;
    },
    /** emitter.on(event, listener), removed at stop. */
    on(emitter: { on(event: string, fn: (...a: unknown[]) => void): unknown; off(event: string, fn: (...a: unknown[]) => void): unknown }, event: string, fn: (...a: unknown[]) => void) {
      emitter.on(event, fn);
      cleanups.push({ what: `listener ${event}`, run: () => emitter.off(event, fn) });
    },
    /** Any other resource: `release` runs at stop (a subscription's unsubscribe, a socket's close). */
    defer(what: string, release: () => unknown) {
      cleanups.push({ what, run: release });
    },
  };

  let plugin: Record<string, unknown>;
  try {
    plugin = await loader.load(main);
  } catch (error) {
    port.post({ kind: 'loaded', error: describe(error) });
    throw error;
  }
  const exported = Object.entries(plugin).map(([key, value]) => ({ name: key, type: typeof value }));
  port.post({ kind: 'loaded', exports: exported });

  function describe(error: unknown): string {
    return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  }

  async function stop(): Promise<string[]> {
    const problems: string[] = [];
    if (typeof plugin.stop === 'function') {
      try {
        await (plugin.stop as () => unknown)();
      } catch (error) {
        problems.push(`stop() threw ${describe(error)}`);
      }
    }
    for (const cleanup of cleanups.splice(0).reverse()) {
      try {
        await cleanup.run();
      } catch (error) {
        problems.push(`releasing a ${cleanup.what} threw ${describe(error)}`);
      }
    }
    problems.push(...loader.leftovers());
    return problems;
  }

  async function handle(request: Request): Promise<unknown> {
    switch (request.op) {
      case 'init':
        return typeof plugin.init === 'function' ? (plugin.init as (ctx: typeof context) => unknown)(context) : undefined;
      case 'health':
        return typeof plugin.health === 'function' ? (plugin.health as () => unknown)() : true;
      case 'snapshot':
        return typeof plugin.snapshot === 'function' ? (plugin.snapshot as () => unknown)() : undefined;
      case 'restore':
        return typeof plugin.restore === 'function' ? (plugin.restore as (state: unknown) => unknown)(request.state) : undefined;
      case 'stop':
        return stop();
      case 'call': {
        const fn = plugin[request.fn as string];
        if (typeof fn !== 'function') throw new Error(`${name} has no export "${request.fn}" to call`);
        return (fn as (...args: unknown[]) => unknown)(...(request.args ?? []));
      }
    }
  }

  port.onMessage((message) => {
    const request = message as Request;
    Promise.resolve()
      .then(() => handle(request))
      .then(
        (value) => {
          try {
            port.post({ kind: 'reply', id: request.id, value });
          } catch (error) {
            // A function, a socket: what cannot be cloned cannot cross to the host.
            port.post({ kind: 'reply', id: request.id, error: `the result of ${request.op} ${request.fn ?? ''} cannot be sent to the host: ${describe(error)}` });
          }
        },
        (error: unknown) => port.post({ kind: 'reply', id: request.id, error: describe(error) }),
      );
  });
}
