import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';

/**
 * What makes two generations "the same build", for marking a rolled-back build bad: the
 * bytes of its artifact (Go builds are reproducible, so rebuilding unchanged code gives
 * the same hash and stays refused), or, for a service that runs its sources, which source
 * build it runs (every change that reached a build is a new one).
 *
 * @example
 *   await buildIdentity('/app/.airlock/bin/api.g5', 3); // 'sha256:9f86d0…'
 *   await buildIdentity(undefined, 3);                   // 'source build 3'
 */
export async function buildIdentity(artifact: string | undefined, sourceBuild: number): Promise<string> {
  if (artifact === undefined) return `source build ${sourceBuild}`;
  const hash = createHash('sha256');
  try {
    for await (const chunk of createReadStream(artifact)) hash.update(chunk as Buffer);
  } catch {
    // Gone already (pruned): nothing to compare it with, so it counts as a build of its own.
    return `artifact ${artifact}`;
  }
  return `sha256:${hash.digest('hex')}`;
}
