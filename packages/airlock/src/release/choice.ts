import { AirlockError } from '../errors.js';
import type { AgentState } from './agent-state.js';
import type { Release } from './channel.js';
import type { FleetState } from './rollout-role.js';

/** A release to run, and why: the channel's head, or the canary of a fleet rollout this host is in. */
export interface Choice {
  readonly release: Release;
  readonly role: 'head' | 'canary';
}

/**
 * Which release this host runs, from the verified releases (newest first), the verified
 * fleet rollout state, and what this host remembers. The head is the newest release not
 * published `--staged`, or the one a rollout promoted if that is newer. A host the state
 * names for the canary runs the canary release (unless it failed its gate here). Every
 * other host runs the head; a release marked bad here is passed over for the next one
 * down, never below the highest head this host applied (a channel offering only older
 * ones is a replay).
 *
 * @example
 *   chooseRelease(releases, state, 'host-a', agent.state, { from, service: 'web', channel: 'stable' });
 */
export function chooseRelease(releases: readonly Release[], state: FleetState | undefined, host: string, agent: AgentState, where: { from: string; service: string; channel: string }): Choice {
  const { from, service, channel } = where;
  const { highest, bad } = agent;
  const heads = releases.filter((release) => release.staged !== true || release.version === state?.head);
  const newest = heads[0];
  if (newest === undefined) {
    const staged = releases.length > 0 ? ` (${releases.length} staged: they run only on a fleet rollout's canary hosts)` : '';
    throw new AirlockError('RELEASE_NONE', `${from} has no release of ${service} on channel ${channel}${staged}`);
  }
  if (newest.version < highest) {
    throw new AirlockError('RELEASE_VERSION', `the newest release of ${service} on ${channel} is ${newest.version}, below ${highest}, the highest this machine applied: an old channel put back (a replay), refused`);
  }
  const canary = state?.canary;
  if (canary !== undefined && canary.hosts.includes(host) && bad[canary.version] === undefined) {
    const release = releases.find((candidate) => candidate.version === canary.version);
    if (release !== undefined) return { release, role: 'canary' };
  }
  const chosen = heads.find((release) => release.version >= highest && bad[release.version] === undefined);
  if (chosen === undefined) {
    const marks = heads.filter((release) => bad[release.version] !== undefined).map((release) => `${release.version} (${bad[release.version]})`);
    throw new AirlockError('RELEASE_NONE', `every release of ${service} on ${channel} from ${highest} up is marked bad: ${marks.join(', ')}; publish a higher version`);
  }
  return { release: chosen, role: 'head' };
}
