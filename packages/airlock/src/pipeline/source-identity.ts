import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { relative } from 'node:path';
import type { ServicePlan } from '../config/plan.js';
import { expandDirectories } from '../watch/content.js';
import { createFilter } from '../watch/filter.js';

/**
 * What a build of a service without an artifact (it runs its sources) is: a hash of every
 * file its watch globs take in, by path and content. Unchanged sources give the same
 * identity, in this run and the next, so a rolled-back build stays refused exactly as a
 * rebuilt Go binary with the same bytes does.
 *
 * @example
 *   await sourceIdentity(plan); // 'sources:sha256:4b2f…'
 */
export async function sourceIdentity(plan: ServicePlan): Promise<string> {
  const { root } = plan.watch;
  const { files } = await expandDirectories([root], createFilter(plan.watch));
  const hash = createHash('sha256');
  for (const file of files.sort()) {
    let content: Buffer;
    try {
      content = await readFile(file);
    } catch {
      // Removed while hashing: it is not part of this build.
      continue;
    }
    hash.update(relative(root, file)).update('\0').update(content).update('\0');
  }
  return `sources:sha256:${hash.digest('hex')}`;
}
