import watcher from '@parcel/watcher';
import { AirlockError } from '../errors.js';
import { IGNORED_DIRS } from './filter.js';

export interface WatchEvent {
  readonly path: string;
  readonly type: 'create' | 'update' | 'delete';
}

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
  const subscribe = (dir: string) =>
    watcher.subscribe(
      dir,
      (error, events) => {
        if (error) onError(watchError(dir, error));
        else if (events.length > 0) onEvents(events);
      },
      { ignore: IGNORED_DIRS.map((name) => `**/${name}`) },
    );
  let main: watcher.AsyncSubscription;
  try {
    main = await subscribe(root);
  } catch (error) {
    throw watchError(root, error);
  }
  const extra = new Map<string, watcher.AsyncSubscription>();
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
      await Promise.all([main.unsubscribe(), ...[...extra.values()].map((sub) => sub.unsubscribe())]);
      extra.clear();
    },
  };
}
