import { parentPort, workerData } from 'node:worker_threads';
import { ownThreadLoader, runPlugin, type PluginData } from './plugin-side.js';

// One plugin version in a worker thread (isolation: worker).
const port = parentPort;
if (port === null) throw new Error('worker-entry runs in a worker thread');
// Memory outside the JS heap (Buffers, ArrayBuffers) is not under resourceLimits, and only
// this thread can measure its own: it reports, the host enforces (MEMORY_REPORT_MS).
setInterval(() => port.postMessage({ kind: 'memory', external: process.memoryUsage().external }), 100).unref();
await runPlugin({ post: (message) => port.postMessage(message), onMessage: (handler) => port.on('message', handler) }, workerData as PluginData, ownThreadLoader());
