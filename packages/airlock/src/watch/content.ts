import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { PathFilter } from './filter.js';

const ABSENT = 'absent';

/** Coarse file timestamps: a write this close to the watch start may have come after it. */
const MTIME_SLACK_MS = 10;

async function hashFile(path: string): Promise<string> {
  try {
    return createHash('sha1').update(await readFile(path)).digest('hex');
  } catch {
    return ABSENT;
  }
}

/** A file's modification time (ms since the epoch), or undefined when it is gone. */
export async function mtime(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).mtimeMs;
  } catch {
    return undefined;
  }
}

/**
 * Files under `top` that a walk reaches, skipping directories the filter excludes; calls
 * onDir for every directory entered below `top`.
 */
async function* walk(top: string, filter: PathFilter, onDir: (dir: string) => void = () => undefined): AsyncGenerator<string> {
  const stack = [top];
  while (stack.length > 0) {
    const dir = stack.pop() as string;
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      continue;
    }
    for (const entry of entries) {
      const path = join(dir, entry.name);
      if (!entry.isDirectory()) yield path;
      else if (!filter.skipsDir(path)) {
        stack.push(path);
        onDir(path);
      }
    }
  }
}

/** Files under the given directories, and the directories found below them. */
export interface Expanded {
  readonly files: string[];
  readonly nestedDirs: string[];
}

/**
 * Lists what a newly created directory holds: a directory created (or moved in) with
 * files already inside gets no event per file, and its subdirectories may be unwatched.
 */
export async function expandDirectories(dirs: readonly string[], filter: PathFilter, limit = 20_000): Promise<Expanded> {
  const files: string[] = [];
  const nestedDirs: string[] = [];
  for (const top of dirs) {
    if (filter.skipsDir(top)) continue;
    for await (const file of walk(top, filter, (dir) => nestedDirs.push(dir))) {
      files.push(file);
      if (files.length >= limit) break;
    }
  }
  return { files, nestedDirs };
}

/**
 * Remembers the content hash of every input as last built, so a change set that hashes
 * the same (a save without edits, a touch, a checkout and back) starts nothing.
 *
 * @example
 *   const changed = await tracker.changed(paths); // [] when nothing really changed
 */
export class ContentTracker {
  readonly #hashes = new Map<string, string>();

  /**
   * Records the current state of every matching file (bounded, for huge trees). Files
   * written at or after `watchingSince` (wall clock ms) are left unknown: their change
   * event is on its way, and hashing them now would make it look like no change.
   */
  async prime(root: string, filter: PathFilter, limit = 20_000, watchingSince = Infinity): Promise<void> {
    let seen = 0;
    for await (const path of walk(root, filter)) {
      if (!filter.matches(path) || this.#hashes.has(path)) continue;
      const before = await mtime(path);
      if (before === undefined || before >= watchingSince - MTIME_SLACK_MS) continue;
      const hash = await hashFile(path);
      // Written while it was read: the content may be the new one.
      if ((await mtime(path)) !== before) continue;
      this.#hashes.set(path, hash);
      if (++seen >= limit) return;
    }
  }

  /**
   * True when a known input was modified after `sinceWallMs` (Date.now() time): the
   * watcher holds back events while a burst goes on, but mtimes show it at once. Skipped
   * (false) for trees with more than `limit` inputs, where stat-ing them all costs too much.
   */
  async writtenSince(sinceWallMs: number, limit = 5_000): Promise<boolean> {
    if (this.#hashes.size > limit) return false;
    for (const path of this.#hashes.keys()) {
      // A deleted file (undefined) has its event on the way.
      if (((await mtime(path)) ?? -Infinity) > sinceWallMs) return true;
    }
    return false;
  }

  /** The paths whose content differs from what was recorded; records the new state. */
  async changed(paths: Iterable<string>): Promise<string[]> {
    const result: string[] = [];
    for (const path of paths) {
      const hash = await hashFile(path);
      const before = this.#hashes.get(path);
      if (before === hash || (before === undefined && hash === ABSENT)) continue;
      this.#hashes.set(path, hash);
      result.push(path);
    }
    return result;
  }
}
