import type { Metadata, Targets } from '@tufjs/models';
import type { RolloutPlan } from '../config/plan.js';
import type { NatsLocation } from '../config/release-location.js';
import { AirlockError } from '../errors.js';
import { judge } from '../rollout/analysis.js';
import type { WindowFigures } from '../rollout/stats.js';
import { atRepository } from '../release/at-repository.js';
import { current, releaseOf } from '../release/metadata-io.js';
import { readFleetState, writeFleetState, type FleetState } from '../release/rollout-role.js';
import { ttlBucket } from '../release/nats/buckets.js';
import { Lease } from '../release/nats/lease.js';
import { natsConnection } from '../release/nats/shared.js';
import { cohortFor } from './cohort.js';
import type { Heartbeat } from './heartbeat.js';
import { heartbeatReader } from './hosts.js';
import { mergedWindow, snapshotOf } from './window.js';

/** How often the controller looks at the heartbeats while a step waits or a window runs. */
const LOOK_EVERY_MS = 500;

export interface FleetRolloutOptions {
  readonly location: NatsLocation;
  readonly service: string;
  readonly channel: string;
  /** Where the rollout, snapshot and timestamp keys are (or their AIRLOCK_RELEASE_KEY_* variables). */
  readonly keysDir: string | undefined;
  /** The release to roll out: published (usually --staged) on the channel. */
  readonly to: number;
  /** Percent of hosts per step, growing, the last 100. */
  readonly steps: readonly number[];
  readonly intervalMs: number;
  readonly analysis: RolloutPlan['analysis'];
  /** How long the hosts of a step have to serve the release before the rollout is aborted. */
  readonly readyTimeoutMs: number;
  /** Who runs it (for the lease and messages). */
  readonly holder: string;
  readonly say: (line: string) => void;
}

export type FleetOutcome = { readonly outcome: 'promoted' | 'aborted'; readonly reason: string };

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Failures that pass when NATS is back (a server restarting, a writer racing): hold and try again. */
function passing(error: unknown): boolean {
  return error instanceof AirlockError ? error.code === 'NATS_UNREACHABLE' || error.code === 'RELEASE_CONFLICT' : !(error instanceof TypeError || error instanceof RangeError);
}

/**
 * `airlock fleet rollout`: moves the hosts that follow a channel from its head to release
 * `to`, step by step, and promotes or rolls back every host together. The state each agent
 * acts on is written to the repository signed by the rollout key (release/rollout-role.ts);
 * this controller only decides it. At each step it picks the hosts by stable bucketing over
 * host ids, waits until they serve the release, then judges a window of `intervalMs` with
 * the canary's analysis on the figures the agents report (canary hosts against the rest):
 * too little data holds the step; a breach rolls every host back to the head; a pass moves
 * on; after the last step the release becomes the head.
 *
 * One controller at a time holds the lease; a controller killed mid-step is replaced by the
 * next one started, which continues at the step and with the hosts the signed state names.
 * While NATS is away it holds (nothing changes for the agents either) and carries on after.
 *
 * @example
 *   const { outcome, reason } = await new FleetRollout({ location, service: 'web', channel: 'stable', keysDir: 'keys', to: 7, steps: [34, 100], intervalMs: 300_000, analysis, readyTimeoutMs: 120_000, holder: 'ci', say: console.log }).run();
 */
export class FleetRollout {
  #readBeats: ((service?: string) => Promise<Heartbeat[]>) | undefined;
  #seq = 0;
  /** The last stable p99 seen: stands in for it at 100 %, where no host is stable. */
  #baselineP99: number | undefined;

  constructor(private readonly options: FleetRolloutOptions) {}

  get #from(): string {
    return `nats://${this.options.location.servers.join(',')}/${this.options.location.repo}`;
  }

  /** Runs `step` until it succeeds, holding (said once) while NATS is away or a writer races. */
  async #patiently<T>(what: string, step: () => Promise<T>): Promise<T> {
    let said = false;
    for (;;) {
      try {
        const result = await step();
        if (said) this.options.say(`${what}: NATS answers again; carrying on`);
        return result;
      } catch (error) {
        if (!passing(error)) throw error;
        if (!said) this.options.say(`${what}: ${(error as Error).message}; holding until it answers (agents keep serving what they run)`);
        said = true;
        await sleep(1_000);
      }
    }
  }

  async #beats(): Promise<Heartbeat[]> {
    const read = this.#readBeats;
    if (read === undefined) throw new Error('heartbeats read before run()');
    return this.#patiently('reading heartbeats', () => read(this.options.service));
  }

  /** The repository's releases of the service on the channel, and the rollout state, as the repository holds them now. */
  async #readRepository(): Promise<{ state: FleetState | undefined; versions: Map<number, boolean> }> {
    const { service, channel } = this.options;
    return this.#patiently('reading the repository', () =>
      atRepository(this.#from, 'airlock fleet rollout', (dir) => {
        const targets = current(dir).targets as unknown as Metadata<Targets>;
        const versions = new Map<number, boolean>();
        for (const target of Object.values(targets.signed.targets)) {
          const release = releaseOf(target);
          if (release?.service === service && release.channel === channel && release.plugin === undefined) versions.set(release.version, release.staged === true);
        }
        return { state: readFleetState(dir, service, channel), versions };
      }),
    );
  }

  /** Writes the next state, refusing if someone else wrote one since this controller read it (no double promotion). */
  async #write(next: Omit<FleetState, 'seq'>): Promise<FleetState> {
    const { service, channel, keysDir } = this.options;
    const state: FleetState = { ...next, seq: this.#seq + 1 };
    await this.#patiently('writing the rollout state', () =>
      atRepository(this.#from, 'airlock fleet rollout', (dir) => {
        const now = readFleetState(dir, service, channel)?.seq ?? 0;
        // Already written (a retry after the write landed but its answer was lost).
        if (now === state.seq) return;
        if (now !== this.#seq) throw new AirlockError('RELEASE_REPO', `the rollout state of ${service} on ${channel} changed under this controller (seq ${now}, expected ${this.#seq}); another controller ran without the lease? stopping`);
        writeFleetState(dir, keysDir, service, channel, state);
      }),
    );
    this.#seq = state.seq;
    return state;
  }

  async run(): Promise<FleetOutcome> {
    const { location, service, channel, say } = this.options;
    const nc = await natsConnection(location, `airlock fleet rollout ${service}`, false);
    this.#readBeats = await heartbeatReader(nc, location);
    const lease = new Lease(await ttlBucket(nc, location, 'lease'), `rollout.${service}.${channel}`, this.options.holder);
    await lease.acquire(Number.MAX_SAFE_INTEGER, (holder) => say(`waiting for the rollout lease of ${service} on ${channel}, held by ${holder} (it lapses 10 s after its holder stops)`));
    try {
      return await this.#run(lease);
    } finally {
      await lease.release();
    }
  }

  async #run(lease: Lease): Promise<FleetOutcome> {
    const { service, channel, to, steps, say } = this.options;
    const read = await this.#readRepository();
    const { versions } = read;
    let { state } = read;
    this.#seq = state?.seq ?? 0;
    if (!versions.has(to)) throw new AirlockError('RELEASE_NONE', `release ${to} of ${service} on ${channel} is not in the repository; publish it first (airlock release publish … --version ${to} --staged)`);
    const head = Math.max(state?.head ?? 0, ...[...versions].filter(([, staged]) => !staged).map(([version]) => version));
    if (to <= head) {
      if (to === head) return { outcome: 'promoted', reason: `${to} is already the head of ${service} on ${channel}` };
      throw new AirlockError('USAGE_FLAG', `--to ${to} is below ${head}, the head of ${service} on ${channel}; a fleet rollout moves forward (publish a higher version to go back to old code)`);
    }
    if (state?.canary !== undefined && state.canary.version !== to) {
      throw new AirlockError('USAGE_FLAG', `a rollout of ${state.canary.version} is under way for ${service} on ${channel} (step ${state.canary.step + 1}); finish or abort it first (airlock fleet rollout … --to ${state.canary.version})`);
    }
    const resumed = state?.canary?.version === to;
    if (resumed) say(`resuming the rollout of ${to} at step ${(state?.canary?.step ?? 0) + 1} of ${steps.length} with hosts ${state?.canary?.hosts.join(', ')} (seq ${this.#seq})`);
    let cohort = resumed ? [...(state?.canary?.hosts ?? [])] : [];
    const from = resumed ? (state?.canary?.step ?? 0) : 0;
    for (let step = from; step < steps.length; step++) {
      const percent = steps[step] as number;
      const live = (await this.#beats()).map((beat) => beat.host);
      if (live.length === 0) say(`no host of ${service} sends heartbeats yet; waiting for one`);
      while (live.length === 0) {
        await sleep(LOOK_EVERY_MS);
        live.push(...(await this.#beats()).map((beat) => beat.host));
      }
      const next = cohortFor(live, cohort, percent, service, to);
      if (!(resumed && step === from && next.length === cohort.length)) {
        state = await this.#write({ ...(state?.head === undefined ? {} : { head: state.head }), canary: { version: to, hosts: next, steps: [...steps], step, stepStartedAt: new Date().toISOString() } });
      }
      cohort = next;
      say(`step ${step + 1}/${steps.length}: ${percent} % of hosts, ${cohort.length} of ${live.length} on ${to}: ${cohort.join(', ')}`);
      const notReady = await this.#untilServing(cohort, lease);
      if (notReady !== undefined) return this.#abort(state, `step ${step + 1}: ${notReady}`);
      for (;;) {
        const verdict = await this.#window(cohort, lease);
        if (verdict.kind === 'pass') {
          say(`step ${step + 1}/${steps.length} passed: ${verdict.reason}`);
          break;
        }
        if (verdict.kind === 'fail') return this.#abort(state, `step ${step + 1}: ${verdict.reason}`);
        say(`step ${step + 1}/${steps.length} holds: ${verdict.reason}`);
      }
    }
    await this.#write({ head: to, last: { version: to, outcome: 'promoted', reason: `all ${steps.length} steps passed`, at: new Date().toISOString() } });
    say(`promoted: ${to} is the head of ${service} on ${channel}; every host runs it`);
    return { outcome: 'promoted', reason: `all ${steps.length} steps passed` };
  }

  /** Waits until every host of the cohort serves the release; the reason it did not, else undefined. */
  async #untilServing(cohort: readonly string[], lease: Lease): Promise<string | undefined> {
    const { to, readyTimeoutMs } = this.options;
    const until = Date.now() + readyTimeoutMs;
    for (;;) {
      if (lease.lost !== undefined) throw new AirlockError('RELEASE_CONFLICT', lease.lost);
      const beats = new Map((await this.#beats()).map((beat) => [beat.host, beat]));
      const waiting = cohort.filter((host) => beats.get(host)?.version !== to);
      if (waiting.length === 0) return undefined;
      // A canary host that refused the release (it failed its gate there) will not serve it.
      const refused = waiting.map((host) => beats.get(host)).find((beat) => beat?.state === 'refused' && beat.refused === to);
      if (refused !== undefined) return `host ${refused.host} refused ${to}: ${refused.message}`;
      if (Date.now() >= until) {
        const last = waiting.map((host) => `${host} (${beats.get(host) ? `runs ${beats.get(host)?.version ?? 'nothing'}, ${beats.get(host)?.state}` : 'no heartbeat'})`);
        return `not serving ${to} within ${Math.round(readyTimeoutMs / 1000)} s: ${last.join(', ')}`;
      }
      await sleep(LOOK_EVERY_MS);
    }
  }

  /** One analysis window: canary hosts against the rest, over intervalMs from now. */
  async #window(cohort: readonly string[], lease: Lease): Promise<ReturnType<typeof judge>> {
    const { to, intervalMs, analysis } = this.options;
    const start = snapshotOf(await this.#beats());
    const ends = Date.now() + intervalMs;
    let beats: Heartbeat[] = [];
    do {
      await sleep(Math.min(LOOK_EVERY_MS, Math.max(0, ends - Date.now())));
      if (lease.lost !== undefined) throw new AirlockError('RELEASE_CONFLICT', lease.lost);
      beats = await this.#beats();
      // A canary host back on another release (a crash rolled it back there) ends the window: it failed.
      const fell = beats.find((beat) => cohort.includes(beat.host) && beat.version !== to);
      if (fell !== undefined) return { kind: 'fail', reason: `host ${fell.host} no longer serves ${to} (it runs ${fell.version ?? 'nothing'}, ${fell.state}${fell.message ? `: ${fell.message}` : ''})` };
    } while (Date.now() < ends);
    const end = snapshotOf(beats);
    const canary = mergedWindow(cohort, start, end, to);
    const stableHosts = beats.map((beat) => beat.host).filter((host) => !cohort.includes(host));
    const stable: WindowFigures = mergedWindow(stableHosts, start, end, 0);
    if (stable.requests >= analysis.minRequests && stable.p99Ms !== undefined) this.#baselineP99 = stable.p99Ms;
    return judge(canary, stable, analysis, this.#baselineP99);
  }

  /** Every host back on the head: the state drops the canary, and says why. */
  async #abort(state: FleetState | undefined, reason: string): Promise<FleetOutcome> {
    const { to, say, service, channel } = this.options;
    await this.#write({ ...(state?.head === undefined ? {} : { head: state.head }), last: { version: to, outcome: 'aborted', reason, at: new Date().toISOString() } });
    say(`aborted: ${reason}; every host of ${service} on ${channel} goes back to the head`);
    return { outcome: 'aborted', reason };
  }
}

