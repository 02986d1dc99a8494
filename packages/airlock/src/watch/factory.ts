import { pollFiles, watchFilesNative, type WatchFiles } from './files.js';
import { pollTree } from './poll.js';
import { watchTree, type WatchTree } from './watcher.js';

/**
 * The one place a watcher comes from: what a service's settings choose (native events,
 * or polling with `watch.poll`). Change detection and airlock's plugin watching take
 * theirs here, so a later backend reaches all of them.
 *
 * @example
 *   const watch = watcherFor(plan.watch);          // native, or polling every plan.watch.pollMs
 *   const handle = await watch(root, onEvents, onError);
 */
export function watcherFor(settings: { readonly pollMs?: number }): WatchTree {
  return settings.pollMs !== undefined && settings.pollMs > 0 ? pollTree(settings.pollMs) : watchTree;
}

/**
 * The same choice for a few named files (env files, app config files): native events on
 * their directories, or a stat of each file every `watch.poll`.
 *
 * @example
 *   const close = filesWatcherFor(plan.watch)([envFile], (file) => reread(file));
 */
export function filesWatcherFor(settings: { readonly pollMs?: number }): WatchFiles {
  return settings.pollMs !== undefined && settings.pollMs > 0 ? pollFiles(settings.pollMs) : watchFilesNative;
}
