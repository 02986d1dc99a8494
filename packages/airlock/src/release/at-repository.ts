import { parseLocation } from '../config/release-location.js';
import { AirlockError } from '../errors.js';
import { withNatsRepository } from './nats/working-copy.js';

/**
 * Runs a change of a release repository (init, publish, expire, rotate-root, a fleet
 * rollout step) wherever the repository is: on a directory directly, on `nats://` through
 * a working copy written back by compare-and-set (release/nats/working-copy.ts). An
 * http(s) repository is read only: it is written where it is served from.
 *
 * @example
 *   await atRepository('nats://127.0.0.1:4222/releases', 'airlock release publish', (dir) => publish(dir, keys, file, options));
 */
export async function atRepository<T>(from: string, command: string, change: (dir: string) => T | Promise<T>, options: { create?: boolean; replicas?: number } = {}): Promise<T> {
  const location = parseLocation(from);
  if (location.kind === 'dir') return change(location.path);
  if (location.kind === 'http') {
    throw new AirlockError('USAGE_FLAG', `${from}: an http(s) repository is read only; ${command} writes the directory it is served from (or a nats:// repository)`);
  }
  return withNatsRepository(location, { create: options.create ?? false, replicas: options.replicas, name: command }, change);
}
