import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type { ServicePlan } from '../config/plan.js';
import { sourceIdentity } from './source-identity.js';

/**
 * What makes two generations "the same build", for marking a rolled-back build bad: the
 * bytes of its artifact (Go builds are reproducible, so rebuilding unchanged code gives
 * the same hash and stays refused), or, for a service that runs its sources, what its
 * sources hold (sourceIdentity). Computed only when a rollout needs it, never on every build.
 *
 * @example
 *   await buildIdentity('/app/.airlock/bin/api.g5', plan); // 'sha256:9f86d0…'
 *   await buildIdentity(undefined, plan);                  // 'sources:sha256:4b2f…'
 */
export async function buildIdentity(artifact: string | undefined, plan: ServicePlan): Promise<string> {
  if (artifact === undefined) return sourceIdentity(plan);
  try {
    return `sha256:${await sha256File(artifact)}`;
  } catch {
    // Gone already (pruned): nothing to compare it with, so it counts as a build of its own.
    return `artifact ${artifact}`;
  }
}

/**
 * The sha256 of a file's bytes (hex), streamed: a binary is never read whole. Rejects when
 * the file cannot be read.
 *
 * @example
 *   await sha256File('.airlock/store/sha256/9f86…'); // '9f86…'
 */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
