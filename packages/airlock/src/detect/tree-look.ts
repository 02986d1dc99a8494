import { dirname } from 'node:path';
import { mtime } from '../watch/content.js';

/** Files statted at once when checking whether a burst is still being written. */
const STAT_BATCH = 64;

/** Milliseconds since the most recent write to any of the paths (Infinity if none exist). */
export async function newestWriteAgo(paths: Iterable<string>, lookedAt: number): Promise<number> {
  // Measured from when the look began (`lookedAt`, wall time): statting thousands of
  // files takes long enough that "ago" taken afterwards would call a busy tree quiet.
  let newest = -Infinity;
  const list = [...paths];
  for (let i = 0; i < list.length; i += STAT_BATCH) {
    // A deleted file (undefined) will not be written to any more.
    const times = await Promise.all(list.slice(i, i + STAT_BATCH).map(mtime));
    for (const time of times) newest = Math.max(newest, time ?? -Infinity);
  }
  const ago = lookedAt - newest;
  // A timestamp from the future (copied with its times kept) says nothing about now.
  return ago < -1_000 ? Infinity : Math.max(0, ago);
}

/**
 * The paths and the directories that hold them, up to the root: creating a file (or a
 * directory, or renaming a save into place) writes its directory, so a burst of new files
 * that the watcher has not reported yet still shows in their directories' mtimes.
 */
export function withDirectories(paths: Iterable<string>, root: string): Set<string> {
  const all = new Set<string>([root]);
  for (const path of paths) {
    all.add(path);
    for (let dir = dirname(path); dir.length > root.length && !all.has(dir); dir = dirname(dir)) all.add(dir);
  }
  return all;
}
