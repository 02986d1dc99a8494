import { spawn } from 'node:child_process';
import type { EventBus } from '../events.js';

/** What a desktop notification says. */
export interface Notification {
  readonly title: string;
  readonly body: string;
  readonly urgency: 'normal' | 'critical';
}

/** Sends a notification with notify-send (libnotify), never waiting for it nor failing for it. */
export function notifySend(command: string): (notification: Notification) => void {
  return ({ title, body, urgency }) => {
    const child = spawn(command, ['--app-name=airlock', `--urgency=${urgency}`, title, body], { stdio: 'ignore' });
    child.on('error', () => undefined);
    child.unref();
  };
}

/**
 * `--notify`: a desktop notification when a service's build fails (with the compiler's
 * first location), and when its first good build after that one is in, so a developer in
 * the editor hears of a broken build without looking at the terminal, and of the fix.
 * Only builds: a good build after a failure is one whose generation's process started.
 *
 * @example
 *   const send = findExecutable('notify-send');
 *   if (send) notifyOnBuilds(bus, notifySend(send));
 */
export function notifyOnBuilds(bus: EventBus, send: (notification: Notification) => void): () => void {
  const broken = new Set<string>();
  const building = new Set<string>();
  return bus.subscribe((event) => {
    const s = event.service;
    if (event.type === 'build.started') building.add(`${s} ${event.generation}`);
    else if (event.type === 'build.failed') {
      building.delete(`${s} ${event.generation}`);
      broken.add(s);
      const where = event.locations[0];
      const first = event.message.split('\n')[0] ?? '';
      send({ title: `airlock: ${s} build failed`, body: where === undefined || first.includes(where) ? first : `${where}\n${first}`, urgency: 'critical' });
    } else if (event.type === 'process.started' && building.delete(`${s} ${event.generation}`) && broken.delete(s)) {
      send({ title: `airlock: ${s} builds again`, body: `g${event.generation} is starting`, urgency: 'normal' });
    } else if (event.type === 'build.cancelled') building.delete(`${s} ${event.generation}`);
  }, 'notify');
}
