import { listenBridges, type Bridge } from './net-bridge.js';
import { ownThreadLoader, runPlugin, type PluginData } from './plugin-side.js';

// One plugin version in a child process (isolation: process). The IPC channel is its only
// tie to the host: when it closes (the host exited, crashed or was killed), so does this.
const send = process.send?.bind(process);
if (send === undefined) throw new Error('process-entry runs as a child with an IPC channel');
// eslint-disable-next-line no-restricted-properties -- a plugin's own process: its timers would keep it alive once the host is gone
process.on('disconnect', () => process.exit(0));
// A sandboxed plugin's granted connections: listening inside its namespace before its code runs.
if (process.env.AIRLOCK_PLUGIN_BRIDGES) await listenBridges(JSON.parse(process.env.AIRLOCK_PLUGIN_BRIDGES) as Bridge[]);
await runPlugin({ post: (message) => void send(message), onMessage: (handler) => process.on('message', handler) }, JSON.parse(process.env.AIRLOCK_PLUGIN_DATA ?? '{}') as PluginData, ownThreadLoader());
