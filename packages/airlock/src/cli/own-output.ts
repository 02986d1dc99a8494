import { readlinkSync, statSync } from 'node:fs';

/**
 * The regular files airlock's stdout and stderr are redirected to (`airlock dev > log`),
 * read from /proc/self/fd. A log inside the watched tree would otherwise be a change
 * every time airlock writes to it: a reload that logs, which reloads, for ever.
 *
 * @example
 *   ownOutputFiles(); // ['/home/me/shop/airlock.log'] under `airlock dev > airlock.log`
 */
export function ownOutputFiles(): string[] {
  const files = new Set<string>();
  for (const fd of [1, 2]) {
    try {
      const target = readlinkSync(`/proc/self/fd/${fd}`);
      if (target.startsWith('/') && statSync(target).isFile()) files.add(target);
    } catch {
      // not Linux, or a pipe, a terminal, a closed descriptor
    }
  }
  return [...files];
}
