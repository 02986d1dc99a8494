import { randomBytes } from 'node:crypto';
import { changedPathsEnv } from '../config/changed-paths.js';
import { generationEnv } from '../config/environment.js';
import { readEnvFiles, type ServicePlan } from '../config/plan.js';
import type { DetectTiming } from '../detect/changes.js';
import { confirmation } from '../detect/provisional.js';
import { fullCode } from '../errors.js';
import type { DetectParts, EventBus, Phase } from '../events.js';
import { healthGate } from '../health/gate.js';
import type { Probe } from '../health/probe.js';
import { buildProbe, type ProbeAddress } from '../health/probes.js';
import type { Generation } from '../swap/generation.js';
import type { Handoff } from '../swap/handoff.js';
import type { TrafficPolicy } from '../swap/traffic-policy.js';
import type { ServicePlugins } from '../plugin-support/service-plugins.js';
import { reuse, type ArtifactSource, type NewArtifacts } from './artifact-source.js';
import { CANCEL_CHANGE } from './build-step.js';
import { BusyPolicy } from './busy-policy.js';
import type { CanaryRelease } from './canary-release.js';
import type { ServiceCommand } from './commands.js';
import type { Generations } from './generations.js';
import type { Recovery } from './recovery.js';
import type { Reload, ReloadScheduler } from './reload-scheduler.js';
import type { Serving } from './serving.js';

/** The detect phase split up: the detector's steps, and how long the change waited for its reload. */
function partsOf(timing: DetectTiming | undefined, queuedMs: number, confirmMs: number): DetectParts | undefined {
  if (timing === undefined) return undefined;
  const confirm = timing.provisional ? { confirm: confirmMs } : {};
  const parts = { settle: timing.settleMs, hash: timing.hashMs, graph: timing.graphMs, queued: queuedMs, ...confirm };
  return timing.watcherMs === undefined ? parts : { watcher: timing.watcherMs, ...parts };
}

export interface CycleContext {
  readonly bus: EventBus;
  readonly plan: () => ServicePlan;
  readonly traceContext: boolean;
  readonly handoff: Handoff;
  readonly policy: TrafficPolicy;
  readonly generations: Generations;
  readonly source: NewArtifacts;
  readonly release: CanaryRelease;
  readonly recovery: Recovery;
  readonly scheduler: ReloadScheduler<ArtifactSource>;
  readonly plugins: ServicePlugins;
  /** Read only: the serving state belongs to the runner's queue. */
  readonly serving: Pick<Serving, 'current' | 'previousArtifact' | 'lastArtifact'>;
  readonly stopping: AbortSignal;
  /** Hands a state change to the runner's queue; resolves once it was handled. */
  readonly settle: (command: ServiceCommand) => Promise<unknown>;
  /** The first generation of the service is ready (dependsOn waits on it). */
  readonly markReady: () => void;
  /** Generation numbers go on from this one (a runner replaced by an airlock.yaml edit). */
  readonly generationsFrom?: number;
}

/**
 * One reload, from change to traffic: read the env files, obtain an artifact from the
 * source (a build, a reuse), wait for a provisional change to be confirmed, screen it for
 * a canary, start the generation, gate it on its health, and hand it to the runner's queue
 * to take traffic. The scheduler runs one at a time, so what this keeps (the generation
 * numbers, the build under way, the env files read for this reload) has one owner too.
 *
 * @example
 *   const cycle = new ReloadCycle(context);
 *   const scheduler = new ReloadScheduler({ run: (reload) => cycle.run(reload), ... });
 */
export class ReloadCycle {
  #n = 0;
  #traceparent: string | undefined;
  /** The env files as read when the current reload began: its build, probes and process share them. */
  #fileEnv: Readonly<Record<string, string>> = {};
  #build: AbortController | undefined;
  /** Whether a newer change cancels the build under way, or lets it finish (watch.onBusy). */
  readonly #busy: BusyPolicy;
  /** Resolves false once airlock stops: a wait for a confirmation ends with it. */
  readonly #stopped: Promise<false>;

  constructor(private readonly context: CycleContext) {
    this.#busy = new BusyPolicy(() => context.plan().watch.onBusy);
    this.#n = context.generationsFrom ?? 0;
    this.#stopped = new Promise<false>((resolve) => context.stopping.addEventListener('abort', () => resolve(false), { once: true }));
  }

  /** The newest generation number given out. */
  get n(): number {
    return this.#n;
  }

  get building(): boolean {
    return this.#build !== undefined;
  }

  /** airlock stopping: the build under way is killed. */
  abortBuild(reason: string): void {
    this.#build?.abort(reason);
  }

  /**
   * A newer change arrived while a reload runs: the build under way is killed so the
   * newest change builds at once, or finishes first when killing it could starve the
   * service (BusyPolicy); the newer change then waits in the scheduler.
   */
  supersede(): void {
    if (this.#build === undefined) return;
    const verdict = this.#busy.newerChange();
    if (verdict.cancel) return this.#build.abort(CANCEL_CHANGE);
    if (verdict.why === undefined) return;
    const message = `g${this.#n}'s build goes on (${verdict.why}); the newer change builds right after it`;
    this.context.bus.emit({ type: 'notice', service: this.context.plan().name, message });
  }

  /** The probe of the generation being started (the newest), against its own address and environment. */
  probeFor(address: ProbeAddress | undefined, connectCounts: boolean, env: Readonly<Record<string, string>>): Probe | undefined {
    const plan = this.context.plan();
    if (plan.health.probe?.kind === 'tcp' && !connectCounts) return undefined;
    const n = this.#n;
    const context = { health: plan.health, address, cwd: plan.dir, env: { ...generationEnv(plan, n, this.#fileEnv), ...env } };
    return buildProbe({ ...context, logProbe: () => this.context.generations.logProbe(n) });
  }

  async run(reload: Reload<ArtifactSource>): Promise<void> {
    const { bus, plan, recovery, scheduler, release, stopping } = this.context;
    const n = ++this.#n;
    const service = plan().name;
    if (this.context.traceContext) {
      const trace = { traceId: randomBytes(16).toString('hex'), spanId: randomBytes(8).toString('hex') };
      this.#traceparent = `00-${trace.traceId}-${trace.spanId}-01`;
      bus.emit({ type: 'reload.started', service, generation: n, ...trace });
    }
    const phases: Partial<Record<Phase, number>> = { detect: performance.now() - reload.detectStartedAt };
    const queuedMs = reload.timing ? performance.now() - reload.timing.handedAt : 0;
    try {
      // What changed goes with the env files' snapshot: the build, the probes and the process see it.
      this.#fileEnv = { ...readEnvFiles(plan().run.envFiles), ...changedPathsEnv(plan(), reload.changed) };
    } catch (error) {
      // A missing env file fails this reload, not airlock; with nothing serving it is tried again (it may come back unchanged).
      return recovery.failedStart(n, 'ENV_FILE', `cannot read env file: ${(error as Error).message}`, [], 0, reload.source);
    }
    this.context.generations.copyConfig(n);
    const provisional = reload.timing?.provisional;
    const obtained = await this.#obtain(n, reload.source, provisional?.signal);
    if (!obtained.ok || stopping.aborted) return;
    // Built before the burst rules confirmed the change was alone: it swaps only once they do.
    const confirmMs = await confirmation(provisional, this.#stopped);
    if (confirmMs === undefined) {
      if (!stopping.aborted) bus.emit({ type: 'build.cancelled', service, generation: n, reason: 'more changes arrived before this build was used' });
      return;
    }
    if (obtained.buildMs !== undefined) phases.build = obtained.buildMs;
    scheduler.cancelRetry();
    if (reload.source.kind === 'new') scheduler.resetBackoff();
    const { identity, refused, instead, notice } = await release.screen(n, obtained.artifact, this.context.serving.current, obtained.identity?.digest);
    if (refused !== undefined) bus.emit({ type: 'reload.failed', service, generation: n, code: fullCode('ROLLOUT_BAD_BUILD'), message: refused, tail: [] });
    if (notice !== undefined) bus.emit({ type: 'notice', service, message: notice });
    if (refused !== undefined && instead === undefined) return;
    const swapped = await this.#swap(n, instead ?? obtained.artifact, phases, identity);
    if (swapped === undefined) return;
    this.context.markReady();
    const totalMs = performance.now() - reload.detectStartedAt;
    const { next, probed } = swapped;
    const detectParts = partsOf(reload.timing, queuedMs, confirmMs);
    this.context.plugins.newHost(n);
    bus.emit({ type: 'reload.ready', service, generation: n, pid: next.child.pid, totalMs, phases, reason: [...reload.reasons], probed, ...(detectParts ? { detectParts } : {}) });
  }

  async #obtain(n: number, source: ArtifactSource, cancelled: AbortSignal | undefined) {
    const { serving, release, source: own, recovery } = this.context;
    const controller = new AbortController();
    this.#build = controller;
    // An early change that more changes cancelled: its build is killed at once.
    const onCancel = () => controller.abort(CANCEL_CHANGE);
    if (cancelled?.aborted) onCancel();
    cancelled?.addEventListener('abort', onCancel, { once: true });
    const inUse = [serving.current?.artifact, serving.previousArtifact, release.canary?.artifact].filter((path): path is string => path !== undefined);
    // Mid-rollout the newest build is the canary's: a restart of "the same build" restarts that one.
    const same = release.canary?.artifact ?? serving.current?.artifact ?? serving.lastArtifact ?? own.lastObtained;
    const isNew = source.kind === 'new';
    if (isNew) this.#busy.started();
    let ok = false;
    try {
      const obtained = await source.obtain({ n, signal: controller.signal, fileEnv: this.#fileEnv, inUse, same, keeps: recovery.keeps('running') });
      ok = obtained.ok;
      return obtained;
    } finally {
      if (isNew) this.#busy.ended(ok ? 'completed' : controller.signal.aborted ? 'cancelled' : 'failed');
      cancelled?.removeEventListener('abort', onCancel);
      if (this.#build === controller) this.#build = undefined;
    }
  }

  /** Starts generation n, gates it on its health, and moves traffic to it; undefined when it never became ready. */
  async #swap(n: number, artifact: string | undefined, phases: Partial<Record<Phase, number>>, identity: string | undefined): Promise<{ next: Generation; probed: boolean } | undefined> {
    const { handoff, policy, generations, plugins, stopping } = this.context;
    let mark = performance.now();
    const lap = (phase: Phase) => {
      phases[phase] = performance.now() - mark;
      mark = performance.now();
    };
    const launch = await handoff.launch(n);
    const old = this.context.serving.current;
    if (handoff.stopsFirst && old) await this.context.settle({ kind: 'stop-first' });
    if (await policy.beforeStart(old)) lap('stop');
    const next = generations.start(n, artifact, { ...launch, env: { ...plugins.env(), ...launch.env } }, this.#fileEnv, this.#traceparent, old);
    lap('start');
    const { probe, settleMs } = await launch.readiness(next.child);
    const verdict = await healthGate({ plan: this.context.plan(), child: next.child, probe, settleMs, signal: stopping });
    lap('ready');
    if (!verdict.ready) {
      await generations.stop(next);
      // Cut short because airlock stops: nothing failed.
      if (!stopping.aborted) this.context.recovery.failedStart(n, verdict.code, verdict.detail, next.child.tail(), performance.now() - next.startedAt, reuse(this.context.source, artifact));
      return undefined;
    }
    await this.context.settle({ kind: 'ready', ready: { next, launch, old, probe, artifact, identity } });
    lap('swap');
    return { next, probed: probe !== undefined };
  }
}
