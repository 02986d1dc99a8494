import { lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { AirlockError } from '../errors.js';
import { IGNORED_DIRS } from './filter.js';
import type { WatchEvent, WatchHandle, WatchTree } from './watcher.js';

/** Entries looked at per pass at most: a bigger tree is cut short (and said once). */
const MAX_ENTRIES = 200_000;
/** Entries statted between two turns of the event loop. */
const STAT_SLICE = 500;

interface Seen {
  readonly mtimeMs: number;
  readonly size: number;
  readonly dir: boolean;
}

/** Every entry under `root` (directories included), skipping what airlock never watches; symbolic links are not followed. One polling pass (bench/poll-cost.ts measures it). */
export async function look(root: string): Promise<{ entries: Map<string, Seen>; cut: boolean }> {
  const entries = new Map<string, Seen>();
  const stack = [root];
  const skip = new Set<string>(IGNORED_DIRS);
  let statted = 0;
  while (stack.length > 0) {
    const dir = stack.pop() as string;
    let names;
    try {
      names = readdirSync(dir, { withFileTypes: true });
    } catch {
      continue;
    }
    for (const entry of names) {
      if (entries.size >= MAX_ENTRIES) return { entries, cut: true };
      if (entry.isDirectory() && skip.has(entry.name)) continue;
      const path = join(dir, entry.name);
      // Synchronous, a slice at a time: an await per entry (the thread pool) cost 0.3 to
      // 0.6 s of CPU per 10,000 files, an await per directory 0.1 s; lstatSync costs a few
      // µs, and the event loop (the proxies share it) gets a turn every STAT_SLICE entries.
      if (++statted % STAT_SLICE === 0) await new Promise((resolve) => setImmediate(resolve));
      const stat = lstatSync(path, { throwIfNoEntry: false });
      // undefined: gone between readdir and lstat; the next pass sees it gone.
      if (stat === undefined) continue;
      entries.set(path, { mtimeMs: stat.mtimeMs, size: stat.size, dir: stat.isDirectory() });
      if (stat.isDirectory()) stack.push(path);
    }
  }
  return { entries, cut: false };
}

/**
 * A watcher that looks instead of listening (`watch.poll`): every `intervalMs` it lists
 * the tree and compares each entry's mtime and size with the last pass, reporting the
 * differences as the native watcher reports events (create, update, delete), so the
 * burst rules, content hashes and Go graph downstream work unchanged. For file systems
 * where native events never arrive: a bind mount from another OS, NFS, 9p/drvfs (WSL),
 * an overlay whose lower layer changes. One pass at a time; a slow pass delays the next.
 *
 * @example
 *   const handle = await pollTree(500)(root, (events) => detector.onEvents(events), report);
 */
export function pollTree(intervalMs: number): WatchTree {
  return async function pollingWatch(root, onEvents, onError): Promise<WatchHandle> {
    let closed = false;
    let timer: NodeJS.Timeout | undefined;
    let saidCut = false;
    let last = (await look(root)).entries;
    const pass = async () => {
      const { entries, cut } = await look(root);
      if (closed) return;
      if (cut && !saidCut) {
        saidCut = true;
        onError(new AirlockError('WATCH_LIMIT', `polling ${root}: more than ${MAX_ENTRIES} entries; the rest is not looked at: exclude what is not an input`));
      }
      const events: WatchEvent[] = [];
      for (const [path, now] of entries) {
        const before = last.get(path);
        if (before === undefined) events.push({ path, type: 'create' });
        else if (!now.dir && (before.mtimeMs !== now.mtimeMs || before.size !== now.size)) events.push({ path, type: 'update' });
      }
      for (const path of last.keys()) if (!entries.has(path)) events.push({ path, type: 'delete' });
      last = entries;
      if (events.length > 0) onEvents(events);
    };
    const schedule = () => {
      timer = setTimeout(() => {
        void pass().finally(() => {
          if (!closed) schedule();
        });
      }, intervalMs);
      timer.unref();
    };
    schedule();
    return {
      // Every directory is listed on each pass: nothing more to subscribe to.
      watchAlso: async () => undefined,
      close: async () => {
        closed = true;
        clearTimeout(timer);
      },
    };
  };
}
