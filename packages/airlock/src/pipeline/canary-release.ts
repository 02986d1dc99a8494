import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { BadBuilds } from './bad-builds.js';
import { buildIdentity } from './build-identity.js';
import { realClock, type Clock } from '../clock.js';
import type { ServicePlan } from '../config/plan.js';
import type { EventBus } from '../events.js';
import { LivenessMonitor } from '../health/monitor.js';
import type { Probe } from '../health/probe.js';
import { CanaryRollout, type RolloutStatus } from '../rollout/canary.js';
import { BucketSplit } from '../rollout/split.js';
import { normalQuantile } from '../rollout/compare.js';
import { RolloutStats } from '../rollout/stats.js';
import type { Generation } from '../swap/generation.js';
import type { Handoff, Launch } from '../swap/handoff.js';
import type { TrafficPolicy } from '../swap/traffic-policy.js';

export interface CanaryReleaseContext {
  readonly bus: EventBus;
  readonly plan: () => ServicePlan;
  readonly handoff: Handoff;
  readonly policy: TrafficPolicy;
  readonly clock?: Clock;
  /** Who may force a side when rollout.force is unset: any client under airlock dev, nobody otherwise. */
  readonly forceDefault: 'header' | 'off';
  /** The canary took every user: the runner makes it current (the stable one is retired here). */
  readonly promoted: (canary: Generation, probe: Probe | undefined, stable: Generation) => void;
}

interface Active {
  readonly rollout: CanaryRollout;
  readonly stats: RolloutStats;
  readonly canary: Generation;
  readonly stable: Generation;
  readonly probe: Probe | undefined;
  readonly liveness: LivenessMonitor;
  readonly identity: string;
}

/** What the screen of a new generation says: roll it out (identity), refuse it, or run another artifact instead (and why). */
export interface Screened {
  readonly identity?: string;
  readonly refused?: string;
  readonly instead?: string;
  readonly notice?: string;
}

export type RolloutAction = 'promote' | 'promote-full' | 'abort' | 'pause' | 'resume';

/**
 * A service's canary releases (rollout.strategy: canary, docs/rollout.md): a generation
 * that passed its gate while a stable one serves takes a growing share of users through
 * the proxy's split instead of all traffic at once. On promotion it becomes the one that
 * serves and the stable one drains; on abort every user is back on the stable side, the
 * canary drains and stops, and its build is refused until a different one comes out. A
 * newer build during a rollout starts a new rollout against the same stable generation.
 *
 * @example
 *   if (release.wants(current)) release.begin(next, launch, current, probe, identity);
 *   release.act('promote-full');
 */
export class CanaryRelease {
  #active: Active | undefined;
  /** The last rollout (over or replaced), for status. */
  #last: CanaryRollout | undefined;
  /** Builds whose rollout was aborted, kept on disk: a restart never serves what was rolled back. */
  readonly #memory: BadBuilds;

  constructor(private readonly context: CanaryReleaseContext) {
    const plan = context.plan();
    this.#memory = new BadBuilds(join(plan.dir, '.airlock', 'rollout', `${plan.name}.json`), (message) => context.bus.emit({ type: 'notice', service: context.plan().name, message }));
  }

  /** Whether a new generation rolls out as a canary against `stable` instead of taking over at once. */
  wants(stable: Generation | undefined): stable is Generation {
    const { plan, handoff } = this.context;
    return plan().rollout.strategy === 'canary' && handoff.split !== undefined && stable !== undefined && stable.child.end === undefined && !stable.stopping;
  }

  /** The generation on the canary side now. */
  get canary(): Generation | undefined {
    return this.#active?.canary;
  }

  /**
   * Before generation n of `artifact` starts against `stable` (`known`: the identity its
   * source gave, if any): its build identity when it
   * is to roll out as a canary (undefined: it takes over at once), or the refusal when its
   * build was rolled back before.
   */
  async screen(n: number, artifact: string | undefined, stable: Generation | undefined, known?: string): Promise<Screened> {
    const canary = this.wants(stable);
    const serving = stable !== undefined && stable.child.end === undefined;
    const interrupted = serving ? undefined : this.#memory.inProgress;
    // Marks outlive the rollout that made them (and airlock): also a first generation is screened.
    if (!canary && this.#memory.size === 0 && interrupted === undefined) return {};
    // A release knows its digest from its verified metadata: the file is not read again.
    const identity = known ?? (await buildIdentity(artifact, this.context.plan()));
    const bad = this.#memory.get(identity);
    if (bad === undefined) {
      // airlock stopped mid-rollout: the canary went with it; its stable build serves again first.
      if (interrupted?.canary === identity) {
        return { instead: interrupted.stable, notice: `the rollout of this build against g${interrupted.stableN} was under way when airlock stopped, and its canary is gone: g${interrupted.stableN}'s build (${interrupted.stable}) serves; \`airlock reload\` (or the next change) rolls this build out again` };
      }
      return canary ? { identity } : {};
    }
    const refused = `g${n}: not ${canary ? 'rolled out' : 'served'}: it is the same build as ${bad}; change the code to roll out a new one`;
    if (serving) return { refused: `${refused}; g${stable.n} (pid ${stable.child.pid}) keeps serving` };
    // Nothing serves (airlock started again after the abort): the build the rollout went back to serves instead.
    const lastGood = this.#memory.lastGood;
    const lastGoodIdentity = lastGood === undefined ? undefined : await buildIdentity(lastGood, this.context.plan());
    if (lastGood !== undefined && lastGoodIdentity !== undefined && this.#memory.get(lastGoodIdentity) === undefined) return { refused: `${refused}; the build the rollout went back to (${lastGood}) serves instead`, instead: lastGood };
    return { refused: `${refused}; nothing serves until a different build is ready` };
  }

  begin(next: Generation, launch: Launch, stable: Generation, probe: Probe | undefined, identity: string): void {
    const { bus, plan, handoff, policy } = this.context;
    const replaced = this.#active;
    if (replaced !== undefined) {
      this.#end(replaced);
      policy.retire(replaced.canary);
    }
    launch.promote(next.child);
    const service = plan().name;
    const settings = plan().rollout;
    const group = settings.group ?? `rollout-${randomBytes(6).toString('hex')}`;
    const force = { mode: settings.force ?? this.context.forceDefault, token: settings.forceToken };
    const split = new BucketSplit(settings, group, { generation: next.n, host: '127.0.0.1', port: launch.backendPort as number, alive: launch.alive }, force);
    // A request still open after a whole interval (or the latency bound, stable p99 + the allowed increase, if that is longer)
    // counts against its side as hanging; one that is merely slow is judged by its latency when it ends.
    const { maxP99IncreaseMs } = settings.analysis;
    const stats = new RolloutStats(service, stable.n, next.n, (stableP99) => Math.max(settings.intervalMs, (stableP99 ?? 0) + maxP99IncreaseMs), normalQuantile(settings.analysis.confidence ?? 0.999));
    const liveness = new LivenessMonitor(probe, next.child, plan().health);
    const rollout: CanaryRollout = new CanaryRollout({
      service,
      plan: settings,
      clock: this.context.clock ?? realClock,
      windows: stats,
      canary: next.n,
      stable: stable.n,
      group,
      hooks: {
        share: (percent) => {
          split.share = percent;
          // Said again, so that a proxy with workers in other processes hears the new share.
          if (this.#active === active) handoff.split?.(split);
        },
        promote: () => this.#promoted(active),
        abort: (reason) => this.#aborted(active, reason),
        emit: (event) => bus.emit(event),
      },
    });
    const active: Active = { rollout, stats, canary: next, stable, probe, liveness, identity };
    this.#memory.began(identity, stable.artifact, stable.n);
    this.#active = active;
    this.#last = rollout;
    handoff.split?.(split);
    liveness.start((detail) => {
      if (this.#active !== active) return;
      bus.emit({ type: 'health.failed', service, generation: next.n, detail });
      rollout.abort(`canary g${next.n} failed its health probe: ${detail}`);
    });
    rollout.start(replaced ? `g${next.n} is ready: a new rollout against g${stable.n} (replaces g${replaced.canary.n}'s at ${replaced.rollout.share} %)` : undefined);
  }

  /** A generation ended on its own: the canary's end aborts its rollout; the stable one's promotes the canary (it is all that serves). True when it was one of them. */
  exited(generation: Generation, why: string): boolean {
    const active = this.#active;
    if (active === undefined) return false;
    if (generation === active.canary) {
      active.rollout.abort(`canary g${generation.n} exited: ${why}`);
      return true;
    }
    if (generation === active.stable) {
      active.rollout.promote(true, `stable g${generation.n} exited (${why}): the canary g${active.canary.n} takes every user`);
      return true;
    }
    return false;
  }

  /** A generation takes over at once while a rollout runs (the strategy became instant): the canary is retired. */
  takeOverInstead(): void {
    const active = this.#active;
    if (active === undefined) return;
    this.#memory.ended();
    this.#end(active);
    this.context.policy.retire(active.canary);
  }

  /** Steers the rollout in progress; an error text when there is none. */
  act(action: RolloutAction): string | undefined {
    const rollout = this.#active?.rollout;
    if (rollout === undefined) return `no rollout in progress for ${this.context.plan().name}`;
    if (action === 'promote' || action === 'promote-full') rollout.promote(action === 'promote-full');
    else if (action === 'abort') rollout.abort('aborted by hand');
    else if (action === 'pause') rollout.pause();
    else rollout.resume();
    return undefined;
  }

  status(): RolloutStatus | undefined {
    return this.#last?.status();
  }

  /** airlock stops: no more decisions (the generations are stopped by the runner). */
  stop(): void {
    if (this.#active) this.#end(this.#active);
  }

  #end(active: Active): void {
    active.rollout.end();
    active.liveness.stop();
    active.stats.close();
    if (this.#active === active) {
      this.#active = undefined;
      this.context.handoff.split?.(undefined);
    }
  }

  #promoted(active: Active): void {
    this.#memory.ended();
    // Route first, then drop the split: every request has a backend at every moment.
    this.context.handoff.route(active.canary.n, active.canary.launch);
    this.#end(active);
    this.context.promoted(active.canary, active.probe, active.stable);
    this.context.policy.retire(active.stable);
  }

  #aborted(active: Active, reason: string): void {
    this.#end(active);
    // On disk (temp, fsync, rename) before the canary is retired: a restart from here on refuses it.
    this.#memory.mark(active.identity, `g${active.canary.n}'s rollout was aborted: ${reason}`, active.stable.artifact);
    this.context.policy.retire(active.canary);
  }
}
