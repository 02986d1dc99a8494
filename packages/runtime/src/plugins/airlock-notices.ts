import { realpathSync } from 'node:fs';
import { request } from 'node:http';
import { resolve } from 'node:path';

/** Where airlock announces a service's plugin changes: its control socket, and the service's name. */
export interface AirlockNotices {
  readonly socket: string;
  readonly service: string;
}

/** How long to wait for airlock to accept the subscription before watching on our own. */
const SUBSCRIBE_TIMEOUT_MS = 2_000;

function real(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return resolve(path);
  }
}

/**
 * The notices airlock offers for `dir`, read from the environment airlock gives a
 * service whose `plugins: { dir }` it watches (AIRLOCK_PLUGINS_WATCHED naming this
 * directory, AIRLOCK_CONTROL_SOCKET, AIRLOCK_SERVICE); undefined when it watches
 * another directory, or the app runs without airlock.
 *
 * @example
 *   noticesFromEnv('plugins'); // { socket: '/srv/app/.airlock/control.sock', service: 'api' } under airlock dev
 */
export function noticesFromEnv(dir: string, env: NodeJS.ProcessEnv = process.env): AirlockNotices | undefined {
  const { AIRLOCK_PLUGINS_WATCHED: watched, AIRLOCK_CONTROL_SOCKET: socket, AIRLOCK_SERVICE: service } = env;
  if (!watched || !socket || !service || real(watched) !== real(dir)) return undefined;
  return { socket, service };
}

/** A directory name inside the plugin directory, never a path out of it. */
function isPluginName(name: unknown): name is string {
  return typeof name === 'string' && name !== '' && name !== '.' && name !== '..' && !/[/\\]/.test(name);
}

/**
 * Subscribes to airlock's `plugin.changed` events for one service (GET
 * /events?service=…&type=plugin.changed on the control socket, one JSON object per
 * line). Resolves once airlock accepted (the subscription is live, so no change after
 * this is missed), or undefined when it cannot be reached. `onGone` runs once if the
 * stream ends while subscribed (airlock stopped): the caller watches on its own then.
 *
 * @example
 *   const sub = await subscribePluginChanges(notices, (plugin) => host.reload(plugin), () => watchMyself());
 *   sub?.close();
 */
export function subscribePluginChanges(notices: AirlockNotices, onPlugin: (name: string) => void, onGone: (why: string) => void): Promise<{ close(): void } | undefined> {
  return new Promise((resolveSubscription) => {
    let live = false;
    let closed = false;
    const path = `/events?service=${encodeURIComponent(notices.service)}&type=plugin.changed`;
    // A connection of its own (agent: false): a stream without end is no pooled socket.
    const req = request({ socketPath: notices.socket, path, method: 'GET', host: 'airlock', agent: false, timeout: SUBSCRIBE_TIMEOUT_MS });
    const gone = (why: string) => {
      if (closed) return;
      closed = true;
      if (live) onGone(why);
      else resolveSubscription(undefined);
    };
    req.once('timeout', () => {
      if (!live) req.destroy(new Error('airlock did not answer'));
    });
    req.once('error', (error) => gone(error.message));
    req.once('response', (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        return gone(`airlock answered ${res.statusCode}`);
      }
      live = true;
      // A stream without end: no timeout once it runs.
      req.setTimeout(0);
      let rest = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        const lines = (rest + chunk).split('\n');
        rest = lines.pop() ?? '';
        for (const line of lines) {
          try {
            const event = JSON.parse(line) as { type?: string; service?: string; plugin?: unknown };
            if (event.type === 'plugin.changed' && event.service === notices.service && isPluginName(event.plugin)) onPlugin(event.plugin);
          } catch {
            // not an event: airlock only writes whole JSON lines, so skip it
          }
        }
      });
      res.once('close', () => gone('airlock closed the event stream'));
      resolveSubscription({
        close: () => {
          closed = true;
          req.destroy();
        },
      });
    });
    req.end();
  });
}
