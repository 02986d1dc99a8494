import watcher from '@parcel/watcher';
import { AirlockError } from '../errors.js';
import { IGNORED_DIRS } from './filter.js';

export interface WatchHandle {
  close(): Promise<void>;
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

/**
 * Native recursive watching (inotify on Linux, FSEvents, ReadDirectoryChangesW) of a
 * tree; new directories are picked up by the watcher itself. Calls onPaths with the
 * absolute paths of each batch of events.
 */
export async function watchTree(
  root: string,
  onPaths: (paths: string[]) => void,
  onError: (error: AirlockError) => void,
): Promise<WatchHandle> {
  try {
    const subscription = await watcher.subscribe(
      root,
      (error, events) => {
        if (error) onError(watchError(root, error));
        else if (events.length > 0) onPaths(events.map((event) => event.path));
      },
      { ignore: IGNORED_DIRS.map((dir) => `**/${dir}`) },
    );
    return { close: () => subscription.unsubscribe() };
  } catch (error) {
    throw watchError(root, error);
  }
}
