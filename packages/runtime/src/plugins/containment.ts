import { AsyncLocalStorage } from 'node:async_hooks';
import { writeSync } from 'node:fs';
import { sep } from 'node:path';
import { inspect } from 'node:util';

/** One loaded inline version: where its files are, and how it fails. */
export interface Contained {
  /** The plugin's directory: a stack frame below it is this plugin's code. */
  readonly root: string;
  /** A throw of its code escaped (`how`: what kind): this version fails; the host goes on. */
  fail(error: unknown, how: string): void;
}

/** The inline version whose code runs now, carried through every callback, promise and socket it starts. */
const running = new AsyncLocalStorage<Contained>();
const live = new Set<Contained>();

/**
 * Runs `fn` (an inline plugin's load, init or call) as `owner`'s code: whatever it sets
 * going (timers, I/O callbacks, promises, sockets, event emitters) carries the owner,
 * so a throw nobody catches there is the plugin's failure, not the host's death.
 *
 * @example
 *   const leave = enlist(owner);
 *   runAs(owner, () => plugin.init());
 *   leave(); // at unload
 */
export function runAs<T>(owner: Contained, fn: () => T): T {
  return running.run(owner, fn);
}

/** Registers a loaded inline version; returns how to take it off at unload. The process hooks exist only while one is loaded. */
export function enlist(owner: Contained): () => void {
  live.add(owner);
  if (live.size === 1) {
    process.on('uncaughtException', onException);
    process.on('unhandledRejection', onRejection);
  }
  return () => {
    if (!live.delete(owner) || live.size > 0) return;
    process.off('uncaughtException', onException);
    process.off('unhandledRejection', onRejection);
  };
}

/**
 * Whose throw it is: the version whose code set the failing callback going (the async
 * context), else the one a frame of the error's stack lies in (a microtask keeps no
 * context); the newest such version when several of one plugin are loaded.
 */
function ownerOf(error: unknown): Contained | undefined {
  const context = running.getStore();
  if (context !== undefined && live.has(context)) return context;
  const stack = error instanceof Error ? (error.stack ?? '') : '';
  return [...live].reverse().find((owner) => stack.includes(owner.root + sep));
}

function onException(error: unknown): void {
  const owner = ownerOf(error);
  if (owner !== undefined) return owner.fail(error, 'threw');
  // Not a plugin's: the app's own handlers decide; without one, what Node does without ours.
  if (process.listenerCount('uncaughtException') > 1) return;
  writeSync(2, `${inspect(error)}\n\nNode.js ${process.version}\n`);
  // eslint-disable-next-line no-restricted-properties -- the app's process, ending as Node ends it on an uncaught throw: our listener must not keep it alive
  process.exit(1);
}

function onRejection(reason: unknown): void {
  const owner = ownerOf(reason);
  if (owner !== undefined) return owner.fail(reason, 'left a promise rejected:');
  if (process.listenerCount('unhandledRejection') > 1) return;
  // Node's default (--unhandled-rejections=throw): the rejection becomes an uncaught exception.
  onException(reason);
}
