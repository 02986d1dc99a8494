import { parentPort, workerData } from 'node:worker_threads';
import { ownThreadLoader, runPlugin, type PluginData } from './plugin-side.js';

// One plugin version in a worker thread (isolation: worker).
const port = parentPort;
if (port === null) throw new Error('worker-entry runs in a worker thread');
await runPlugin({ post: (message) => port.postMessage(message), onMessage: (handler) => port.on('message', handler) }, workerData as PluginData, ownThreadLoader());
