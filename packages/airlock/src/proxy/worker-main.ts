/**
 * A proxy worker process (proxy.workers > 1): an HttpProxy (or a TcpProxy) on the
 * listening socket airlock's process shares with it, told what to route over IPC,
 * reporting what it answered in batches. It never outlives airlock: its IPC channel
 * closing ends it.
 */
import { subscribe } from 'node:diagnostics_channel';
import type { Server } from 'node:net';
import { HttpProxy, PROXY_REQUEST_CHANNEL, PROXY_RESPONSE_CHANNEL, startRequestIdsAt, type ProxyRequest, type ProxyResponse } from './http-proxy.js';
import type { Backend } from './backends.js';
import type { TrafficSplit } from './split.js';
import { TcpProxy } from './tcp-proxy.js';
import type { FromWorker, ToWorker, WireBackend } from './worker-protocol.js';
import { isSameProcess, readStat } from '../supervise/proc.js';

/** How often records go to airlock's process: the canary's windows are seconds long. */
const BATCH_MS = 100;
/** A batch goes at once past this many numbers, so one stays a small message. */
const BATCH_MAX = 30_000;

const send = (message: FromWorker) => {
  if (process.connected) process.send?.(message);
};

function backendOf(wire: WireBackend): Backend {
  // By pid and start time: a pid the kernel gave to another process later is not this generation.
  const known = wire.pid === undefined ? undefined : readStat(wire.pid);
  return { generation: wire.generation, host: wire.host, port: wire.port, alive: () => known === undefined || isSameProcess(known) };
}

let requests: number[] = [];
let responses: number[] = [];
function flush(): void {
  if (requests.length === 0 && responses.length === 0) return;
  send({ type: 'records', requests, responses });
  requests = [];
  responses = [];
}
setInterval(flush, BATCH_MS).unref();
subscribe(PROXY_REQUEST_CHANNEL, (message) => {
  const r = message as ProxyRequest;
  requests.push(r.generation, r.id, r.forced ? 1 : 0);
  if (requests.length >= BATCH_MAX) flush();
});
subscribe(PROXY_RESPONSE_CHANNEL, (message) => {
  const r = message as ProxyResponse;
  responses.push(r.generation, r.status, r.ms, (r.forced ? 1 : 0) | (r.clientAborted ? 2 : 0), r.id ?? -1);
  if (responses.length >= BATCH_MAX) flush();
});

let proxy: HttpProxy | TcpProxy | undefined;
let debugHeaders = false;
/** Messages act in the order they came (a split's module loads first): one chain. */
let queue: Promise<void> = Promise.resolve();
const splitModules = new Map<string, Promise<{ splitFromPortable(data: unknown, canary: Backend): TrafficSplit }>>();

async function act(message: ToWorker, handle: unknown): Promise<void> {
  switch (message.type) {
    case 'serve': {
      startRequestIdsAt(message.index * 2 ** 40);
      debugHeaders = message.debugHeaders;
      const options = { service: message.service, host: '', port: 0, holdMs: message.holdMs, onError: (text: string) => send({ type: 'error', message: text }) };
      proxy =
        message.kind === 'tcp'
          ? new TcpProxy(options)
          : new HttpProxy({ ...options, onNotice: (text) => send({ type: 'notice', message: text }), debugHeaders: () => debugHeaders });
      await proxy.serve(handle as Server);
      return send({ type: 'serving' });
    }
    case 'active':
      return proxy?.setActive(message.backend === undefined ? undefined : backendOf(message.backend));
    case 'unavailable':
      return proxy?.setUnavailable(message.reason);
    case 'split': {
      // Only the HTTP proxy splits requests (a canary needs handoff: proxy).
      if (!(proxy instanceof HttpProxy)) return;
      if (message.split === undefined) return proxy.setSplit(undefined);
      const { module, data, canary } = message.split;
      let loaded = splitModules.get(module);
      if (loaded === undefined) splitModules.set(module, (loaded = import(module)));
      return proxy.setSplit((await loaded).splitFromPortable(data, backendOf(canary)));
    }
    case 'debugHeaders':
      debugHeaders = message.on;
      return;
    case 'count':
      return send({ type: 'done', id: message.id, longLived: proxy?.longLived(message.generation) ?? { websockets: 0, streams: 0, others: 0 } });
    case 'retire': {
      const drained = (await proxy?.retire(message.generation, message.drainMs, { quiet: true })) ?? true;
      flush();
      return send({ type: 'done', id: message.id, drained });
    }
    case 'quiesce':
      await proxy?.quiesce(message.ms);
      flush();
      return send({ type: 'done', id: message.id });
    case 'sync':
      return send({ type: 'done', id: message.id });
    case 'close':
      await proxy?.close();
      flush();
      send({ type: 'done', id: message.id });
      process.disconnect();
      return;
  }
}

process.on('message', (message: ToWorker, handle: unknown) => {
  // retire and quiesce wait (drains): they must not hold up a newer active or split behind them.
  const waits = message.type === 'retire' || message.type === 'quiesce';
  const run = () =>
    act(message, handle).catch((error: Error) => {
      const said: FromWorker = { type: 'error', message: `proxy worker: ${message.type}: ${error.message}` };
      // A worker that cannot serve must not keep the shared socket (connections it accepted would hang): it ends once it said why.
      if (message.type === 'serve' && process.connected) process.send?.(said, undefined, {}, () => process.exit(1));
      else send(said);
    });
  if (waits) void queue.then(run);
  else queue = queue.then(run);
});
// airlock went away (or closed this worker): nothing more will be routed here.
process.on('disconnect', () => {
  proxy?.destroy();
  process.exit(0);
});
