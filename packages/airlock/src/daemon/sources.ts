import type { BuildSlots } from '../build/slots.js';
import { Builds, type SourceFactory } from '../pipeline/artifact-source.js';
import { ReleaseSource } from '../release/source.js';

/**
 * Each service's artifact source, chosen once when its runner is made: its release
 * channel when airlock.yaml gives it `release:` (an edit that adds or removes it makes a
 * new runner), else its builds in the shared build slots. `host`: this agent's host id
 * (`airlock agent --host`), by which a fleet rollout names its canary hosts.
 *
 * @example
 *   new ServiceRunner(plan, bus, { source: sourceFor(slots) });
 */
export function sourceFor(slots: BuildSlots, host?: string): SourceFactory {
  return (plan, bus) => (plan().release !== undefined ? new ReleaseSource(plan, bus, host) : new Builds(plan, bus, slots));
}
