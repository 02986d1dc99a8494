import { z } from 'zod';

/** How often an agent writes its heartbeat (one not renewed for BUCKET_TTL_MS.hosts is gone: its host is down or cut off). */
export const HEARTBEAT_EVERY_MS = 1_000;

/**
 * What an agent says about one service every HEARTBEAT_EVERY_MS, under the key
 * SERVICE.HOST of the repository's hosts bucket. `figures` count the answers of the
 * generation that serves, from when it began serving (cumulative, so a controller takes
 * a window as its end minus its start, whatever heartbeats it missed).
 */
export const heartbeatSchema = z.object({
  host: z.string(),
  service: z.string(),
  channel: z.string(),
  /** The release that serves (undefined: none yet). */
  version: z.number().int().optional(),
  sha256: z.string().optional(),
  generation: z.number().int().optional(),
  /** It runs as a fleet rollout's canary. */
  canary: z.boolean(),
  /** serving: a release takes traffic; starting: none yet; refused: the last check refused something (message says what) while the release in `version` keeps serving. */
  state: z.enum(['starting', 'serving', 'refused']),
  message: z.string().optional(),
  /** The version the last refusal was about (a canary release that failed to verify or start here). */
  refused: z.number().int().optional(),
  /** When it was written (ISO). */
  at: z.string(),
  figures: z.object({
    generation: z.number().int(),
    requests: z.number().int().min(0),
    errors: z.number().int().min(0),
    /** LatencyHistogram.toSparse() of the answers' times. */
    histogram: z.record(z.string(), z.number()),
  }),
});
export type Heartbeat = z.infer<typeof heartbeatSchema>;

/** The key of a service's heartbeat from a host. */
export function heartbeatKey(service: string, host: string): string {
  return `${service}.${host}`;
}
