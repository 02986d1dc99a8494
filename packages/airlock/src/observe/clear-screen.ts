import type { EventBus } from '../events.js';

/** Clears the screen and its scrollback, cursor home (what watchexec's --clear writes). */
export const CLEAR_SCREEN = '\x1b[2J\x1b[3J\x1b[H';

/**
 * `--clear`: the screen is cleared before each build, so what is on it is this build's
 * output. Builds of several services that start together (one save reaching three Go
 * services) clear once: the screen is cleared only when no other build is running.
 *
 * @example
 *   clearBeforeBuilds(bus, (text) => process.stdout.write(text));
 */
export function clearBeforeBuilds(bus: EventBus, write: (text: string) => void): () => void {
  const running = new Set<string>();
  return bus.subscribe((event) => {
    const key = `${event.service} ${'generation' in event ? event.generation : ''}`;
    if (event.type === 'build.started') {
      if (running.size === 0) write(CLEAR_SCREEN);
      running.add(key);
    } else if (event.type === 'build.failed' || event.type === 'build.cancelled' || event.type === 'process.started' || event.type === 'reload.failed') {
      running.delete(key);
    }
  }, 'clear-screen');
}
