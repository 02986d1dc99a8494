import { readdirSync, readFileSync } from 'node:fs';
import type { PluginEvent, PluginHost } from '../../src/plugins/index.ts';

/** The first event of `host` that passes `test`, or a rejection naming `what` and the plugins' states after `ms`. */
export function waitForPluginEvent(host: PluginHost, test: (e: PluginEvent) => boolean, what: string, ms = 20_000): Promise<PluginEvent> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}: ${JSON.stringify(host.plugins())}`)), ms);
    const listener = (e: PluginEvent) => {
      if (!test(e)) return;
      clearTimeout(timer);
      host.off('event', listener);
      resolve(e);
    };
    host.on('event', listener);
  });
}

/** Processes whose command line names `text` (a plugin directory); a zombie counts as dead. */
export function processesNaming(text: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      const state = /\) (\w)/.exec(readFileSync(`/proc/${entry}/stat`, 'utf8'))?.[1];
      if (cmdline.includes(text) && state !== 'Z') found.push(Number(entry));
    } catch {
      // Gone meanwhile.
    }
  }
  return found;
}

/** Polls `check` (a process that was just killed takes a moment to be reaped) for up to 10 s. */
export async function waitUntil(check: () => boolean): Promise<boolean> {
  for (let i = 0; i < 200; i++) {
    if (check()) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return check();
}

/**
 * Calls `fn` of plugin `name` one after another until stopped (a swap under calls);
 * `stop()` resolves with how many answered and the messages of those that failed.
 */
export function callsUntilStopped(host: PluginHost, name: string, fn: string): { stop(): Promise<{ calls: number; failures: string[] }> } {
  let calls = 0;
  const failures: string[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      await host.call(name, fn).then(
        () => (calls += 1),
        (error: Error) => failures.push(error.message),
      );
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return { calls, failures };
    },
  };
}
