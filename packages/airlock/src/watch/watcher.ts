import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import watcher from '@parcel/watcher';
import { AirlockError } from '../errors.js';
import { IGNORED_DIRS } from './filter.js';

export interface WatchEvent {
  readonly path: string;
  readonly type: 'create' | 'update' | 'delete';
}

/** A way to watch a tree: native events (watchTree) or polling (poll.ts); watch/factory.ts chooses. */
export type WatchTree = (root: string, onEvents: (events: WatchEvent[]) => void, onError: (error: AirlockError) => void) => Promise<WatchHandle>;

export interface WatchHandle {
  /**
   * Also watches a directory inside the tree. @parcel/watcher adds an inotify watch for a
   * directory it sees created, but not for directories created inside it before that
   * watch existed (`mkdir -p a/b/c`, an unpacked archive, a checkout): those are handed
   * here. Events seen twice are harmless; every consumer deduplicates paths.
   */
  watchAlso(dir: string): Promise<void>;
  close(): Promise<void>;
}

const MAX_EXTRA_SUBSCRIPTIONS = 1_000;

/**
 * The platform's native backend, named: left to choose, @parcel/watcher first looks for
 * watchman through `sh`, a child it never waits for, so one `sh <defunct>` stayed for as
 * long as airlock ran. airlock watches with native events only (docs/watching.md).
 */
const NATIVE_BACKEND: { backend?: watcher.BackendType } =
  process.platform === 'linux' ? { backend: 'inotify' } : process.platform === 'darwin' ? { backend: 'fs-events' } : process.platform === 'win32' ? { backend: 'windows' } : {};
/** How often a removed watch root is looked for. */
const ROOT_POLL_MS = 200;

/** Every subscription this process holds: a process that exits with one open aborts (double free in the native teardown). */
const live = new Set<watcher.AsyncSubscription>();

/**
 * Ends every watch subscription of this process. Call before process.exit on any path
 * that did not close its watchers (a second Ctrl-C, a fatal error): @parcel/watcher
 * aborts the process at exit ("free(): double free", exit 134) while one is open.
 *
 * @example
 *   await closeAllWatchers();
 *   process.exit(2);
 */
export async function closeAllWatchers(): Promise<void> {
  const all = [...live];
  live.clear();
  await Promise.all(all.map((sub) => sub.unsubscribe().catch(() => undefined)));
}

/**
 * Turns a watcher failure into a catalog error; running out of inotify watches or
 * instances says which sysctl to raise.
 */
export function watchError(root: string, error: unknown): AirlockError {
  const message = error instanceof Error ? error.message : String(error);
  if (/no space left on device|ENOSPC/i.test(message)) {
    return new AirlockError('WATCH_LIMIT', `cannot watch ${root}: the inotify watch limit (fs.inotify.max_user_watches) is reached`, {
      cause: error,
    });
  }
  if (/too many open files|EMFILE/i.test(message)) {
    return new AirlockError(
      'WATCH_LIMIT',
      `cannot watch ${root}: the inotify instance limit is reached; raise fs.inotify.max_user_instances (e.g. to 1024)`,
      { cause: error },
    );
  }
  return new AirlockError('WATCH_FAILED', `cannot watch ${root}: ${message}`, { cause: error });
}

/** A tree with more directories than this is not searched for nested ones to ignore (the walk would cost more than it saves). */
const MAX_WALKED_DIRS = 50_000;

/**
 * The directories the watcher must not descend into, as plain paths: .git, node_modules
 * and the like at the root (whether they exist yet or not) and wherever they are nested.
 * Plain paths, not globs: @parcel/watcher tests every entry of the tree against each glob
 * with a C++ regex, which took 1.25 s of a 1.6 s start on 100,000 files; finding the
 * nested ones with one walk over directories takes ~60 ms there.
 */
export function ignoredDirs(root: string): string[] {
  const names = new Set<string>(IGNORED_DIRS);
  const found = IGNORED_DIRS.map((name) => join(root, name));
  const stack = [root];
  for (let walked = 0; stack.length > 0 && walked < MAX_WALKED_DIRS; walked++) {
    const dir = stack.pop() as string;
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      continue; // unreadable or gone: nothing to find below it
    }
    for (const entry of entries) {
      // Symbolic links are not followed, by the watcher either.
      if (!entry.isDirectory()) continue;
      const path = join(dir, entry.name);
      if (names.has(entry.name)) {
        if (dir !== root) found.push(path);
      } else stack.push(path);
    }
  }
  return found;
}

/**
 * Native recursive watching (inotify on Linux, FSEvents, ReadDirectoryChangesW) of a
 * tree; new directories are picked up by the watcher itself. Calls onPaths with the
 * absolute paths of each batch of events.
 */
export async function watchTree(
  root: string,
  onEvents: (events: WatchEvent[]) => void,
  onError: (error: AirlockError) => void,
): Promise<WatchHandle> {
  let closed = false;
  let main: watcher.AsyncSubscription | undefined;
  let lookForRoot: NodeJS.Timeout | undefined;
  const extra = new Map<string, watcher.AsyncSubscription>();
  const subscribe = async (dir: string) => {
    const sub = await watcher.subscribe(
      dir,
      (error, events) => {
        if (error) onError(watchError(dir, error));
        else if (events.length > 0) {
          onEvents(events);
          if (dir === root && events.some((event) => event.path === root && event.type === 'delete')) void rootGone();
        }
      },
      { ignore: ignoredDirs(dir), ...NATIVE_BACKEND },
    );
    live.add(sub);
    return sub;
  };
  const unsubscribe = (sub: watcher.AsyncSubscription) => {
    live.delete(sub);
    return sub.unsubscribe().catch(() => undefined);
  };
  /**
   * The root itself was removed (`rm -rf svc && mkdir svc`, a `mv`): its inotify watch is
   * dead and would never report again. Say so, look for it every ROOT_POLL_MS, and once it
   * is back watch it anew and report it as created, so whatever it now holds is a change.
   */
  const rootGone = async () => {
    if (main === undefined || closed) return;
    const dead = [main, ...extra.values()];
    main = undefined;
    extra.clear();
    await Promise.all(dead.map(unsubscribe));
    onError(new AirlockError('WATCH_FAILED', `the watched directory ${root} was removed; airlock watches it again as soon as it is back`));
    lookForRoot = setInterval(() => {
      if (closed || !existsSync(root)) return;
      clearInterval(lookForRoot);
      lookForRoot = undefined;
      subscribe(root).then(
        (sub) => {
          if (closed) return void unsubscribe(sub);
          main = sub;
          onEvents([{ path: root, type: 'create' }]);
        },
        (error: unknown) => onError(watchError(root, error)),
      );
    }, ROOT_POLL_MS);
    lookForRoot.unref();
  };
  try {
    main = await subscribe(root);
  } catch (error) {
    throw watchError(root, error);
  }
  return {
    async watchAlso(dir) {
      if (extra.has(dir) || extra.size >= MAX_EXTRA_SUBSCRIPTIONS) return;
      try {
        extra.set(dir, await subscribe(dir));
      } catch (error) {
        // Gone again before we got to it: nothing to watch.
        if (!/ENOENT|no such file/i.test(String(error))) onError(watchError(dir, error));
      }
    },
    async close() {
      closed = true;
      if (lookForRoot !== undefined) clearInterval(lookForRoot);
      await Promise.all([...(main ? [unsubscribe(main)] : []), ...[...extra.values()].map(unsubscribe)]);
      extra.clear();
    },
  };
}
