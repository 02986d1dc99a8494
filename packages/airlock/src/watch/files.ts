import { statSync, watch, type FSWatcher } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * Watches a few named files (env files, app config, airlock.yaml) and says which one was
 * touched; what changed in it is the caller's to find out. Returns how to stop.
 */
export type WatchFiles = (files: readonly string[], onTouched: (file: string) => void) => { close(): void };

/**
 * Native events on the files' directories, not on the files: editors that save by
 * renaming a temp file over the original replace the inode, and a watch on the file
 * itself goes silent.
 */
export const watchFilesNative: WatchFiles = (files, onTouched) => {
  const watchers: FSWatcher[] = [];
  for (const dir of new Set(files.map((file) => dirname(file)))) {
    const watcher = watch(dir, (_event, name) => {
      const file = name === null ? undefined : join(dir, name.toString());
      if (file !== undefined && files.includes(file)) onTouched(file);
    });
    watcher.on('error', () => undefined);
    watchers.push(watcher);
  }
  return { close: () => watchers.forEach((watcher) => watcher.close()) };
};

/** What a stat says about a file's content having been written: its inode, size and mtime. */
function stamp(file: string): string {
  const stat = statSync(file, { throwIfNoEntry: false });
  return stat === undefined ? 'missing' : `${stat.ino}:${stat.size}:${stat.mtimeMs}`;
}

/**
 * Polling (`watch.poll`): each file is statted every `intervalMs`, a handful of syscalls
 * per pass, where native events do not arrive (a share, a bind mount from another OS).
 */
export function pollFiles(intervalMs: number): WatchFiles {
  return (files, onTouched) => {
    const last = new Map(files.map((file) => [file, stamp(file)]));
    const timer = setInterval(() => {
      for (const file of files) {
        const now = stamp(file);
        if (now === last.get(file)) continue;
        last.set(file, now);
        onTouched(file);
      }
    }, intervalMs);
    timer.unref();
    return { close: () => clearInterval(timer) };
  };
}
