import { setTimeout } from 'node:timers/promises';

/** How often, and how far apart, a save caught half-written is read again before it counts. */
export const HALF_WRITTEN_RETRIES = 3;
const RETRY_MS = 100;

/**
 * Reads (and parses) a just-saved file until the result is good or the retries are spent,
 * and returns the last result. A file read right after a change may be truncated, cut off
 * or renamed away for a moment: it is read again, 100 ms apart, before it is reported.
 *
 * @example
 *   const result = await readSettled(() => parseFile(path), (r) => !(r instanceof Error));
 */
export async function readSettled<T>(attempt: () => Promise<T>, good: (result: T) => boolean, retries = HALF_WRITTEN_RETRIES): Promise<T> {
  let result = await attempt();
  for (let retry = 0; retry < retries && !good(result); retry++) {
    await setTimeout(RETRY_MS);
    result = await attempt();
  }
  return result;
}
