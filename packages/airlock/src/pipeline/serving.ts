import type { ServicePlan } from '../config/plan.js';
import type { EventBus } from '../events.js';
import { LivenessMonitor } from '../health/monitor.js';
import type { Probe } from '../health/probe.js';
import { describeEnd, isSuccess } from '../supervise/process-end.js';
import type { Generation } from '../swap/generation.js';
import type { Handoff } from '../swap/handoff.js';
import type { TrafficPolicy } from '../swap/traffic-policy.js';
import type { CanaryRelease } from './canary-release.js';
import type { ReadyGeneration, ServiceCommand } from './commands.js';
import type { Recovery } from './recovery.js';

export interface ServingContext {
  readonly bus: EventBus;
  readonly plan: () => ServicePlan;
  readonly handoff: Handoff;
  readonly policy: TrafficPolicy;
  readonly release: CanaryRelease;
  readonly recovery: Recovery;
  readonly stopped: () => boolean;
  /** The number the next generation will get (a rollback's event names it). */
  readonly nextN: () => number;
  /** A liveness probe failed for a generation: sent back to the runner's queue. */
  readonly unhealthy: (generation: Generation, detail: string) => void;
}

/**
 * Which generation of a service takes traffic, what came before it, and the watch on
 * its liveness. Its methods are the runner's command handlers for traffic and failures;
 * only the runner's queue calls them, one at a time, so nothing else writes this state.
 *
 * @example
 *   serving.ready({ next, launch, old, probe, artifact, identity: undefined });
 *   serving.exited(generation); // a crash of the current one: rolled back or restarted
 */
export class Serving {
  #current: Generation | undefined;
  /** The artifact of the generation before the current one: what a rollback restores. */
  #previousArtifact: string | undefined;
  /** The artifact of the last generation started, for restarts when none is current. */
  #lastArtifact: string | undefined;
  #liveness: LivenessMonitor | undefined;

  constructor(private readonly context: ServingContext) {}

  /** The generation that last took traffic, running or not. */
  get current(): Generation | undefined {
    return this.#current;
  }

  get previousArtifact(): string | undefined {
    return this.#previousArtifact;
  }

  get lastArtifact(): string | undefined {
    return this.#lastArtifact;
  }

  /** The commands about traffic and failures, as the runner's queue hands them over. */
  handle(command: Extract<ServiceCommand, { kind: 'signal' | 'stop-first' | 'ready' | 'promoted' | 'exited' | 'unhealthy' }>): void {
    switch (command.kind) {
      case 'signal':
        return this.signal(command.signal);
      case 'stop-first':
        return this.stopFirst();
      case 'ready':
        return this.ready(command.ready);
      case 'promoted':
        return this.promoted(command.canary, command.probe, command.stable);
      case 'exited':
        return this.exited(command.generation);
      case 'unhealthy':
        return this.unhealthy(command.generation, command.detail);
    }
  }

  somethingRuns(): boolean {
    return this.#current !== undefined && this.#current.child.end === undefined;
  }

  /** A generation passed its gate: it rolls out as a canary, or takes all traffic at once. */
  ready({ next, launch, old, probe, artifact, identity }: ReadyGeneration): void {
    const { release, policy, recovery } = this.context;
    recovery.served();
    if (identity !== undefined && release.wants(old)) {
      // A canary: it takes a share of users; the stable generation stays current until promotion.
      release.begin(next, launch, old, probe, identity);
      return;
    }
    release.takeOverInstead();
    this.#liveness?.stop();
    policy.takeOver(next, launch, old);
    next.promotedAt = performance.now();
    if (old) this.#previousArtifact = old.artifact;
    this.#current = next;
    this.#lastArtifact = artifact;
    this.#watchLiveness(next, probe);
  }

  /** The canary took every user: it is current now (the release retires the stable one). */
  promoted(canary: Generation, probe: Probe | undefined, stable: Generation): void {
    this.#liveness?.stop();
    this.#previousArtifact = stable.artifact;
    this.#current = canary;
    this.#lastArtifact = canary.artifact;
    canary.promotedAt = performance.now();
    this.#watchLiveness(canary, probe);
  }

  /** A stop-first handoff stops the current generation: its end is expected, not watched. */
  stopFirst(): void {
    this.#liveness?.stop();
  }

  exited(generation: Generation): void {
    const end = generation.child.end;
    if (end === undefined || generation.stopping || this.context.stopped()) return;
    // During a rollout: the canary's end aborts it, the stable one's promotes the canary.
    if (this.context.release.exited(generation, describeEnd(end))) return;
    if (generation !== this.#current) return;
    this.#liveness?.stop();
    // No generation serves now: proxies hold new requests until a replacement is ready.
    this.context.handoff.route(undefined, undefined);
    // A clean exit of a ready generation waits for the next change; a crash is replaced.
    if (!isSuccess(end)) this.#servingFailed(generation, describeEnd(end));
  }

  unhealthy(generation: Generation, detail: string): void {
    if (this.#current !== generation || this.context.stopped()) return;
    this.context.bus.emit({ type: 'health.failed', service: this.context.plan().name, generation: generation.n, detail });
    this.#servingFailed(generation, detail);
  }

  /** deliver: signal — the generation that takes traffic re-reads its config snapshot. */
  signal(signal: NodeJS.Signals): void {
    const current = this.#current;
    if (current === undefined || !this.somethingRuns()) return;
    try {
      process.kill(current.child.pid, signal);
    } catch {
      // it just ended: the next generation reads the new snapshot at start
    }
  }

  /** airlock stops: nothing is watched any more. */
  stop(): void {
    this.#liveness?.stop();
  }

  #watchLiveness(generation: Generation, probe: Probe | undefined): void {
    const monitor = new LivenessMonitor(probe, generation.child, this.context.plan().health);
    this.#liveness = monitor;
    monitor.start((detail) => this.context.unhealthy(generation, detail));
  }

  #servingFailed(failed: Generation, why: string): void {
    if (this.context.recovery.servingFailed(failed, why, this.#previousArtifact, this.context.nextN())) this.#previousArtifact = undefined;
  }
}
