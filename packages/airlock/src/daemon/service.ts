import { isDeepStrictEqual } from 'node:util';
import { randomBytes } from 'node:crypto';
import type { BuildSlots } from '../build/slots.js';
import { generationEnv } from '../config/environment.js';
import { readEnvFiles, type ServicePlan } from '../config/plan.js';
import { internalError, type DetectParts, type EventBus, type Phase } from '../events.js';
import type { DetectTiming } from './changes.js';
import { healthGate } from '../health/gate.js';
import { LivenessMonitor } from '../health/monitor.js';
import type { Probe } from '../health/probe.js';
import { buildProbe, type ProbeAddress } from '../health/probes.js';
import { describeEnd, isSuccess } from '../supervise/process-end.js';
import { createHandoff } from '../swap/create.js';
import type { Generation } from '../swap/generation.js';
import type { Handoff } from '../swap/handoff.js';
import { trafficPolicy, type TrafficPolicy } from '../swap/traffic-policy.js';
import { Builds, mergeSources, reuse, type ArtifactSource } from './artifact-source.js';
import { CanaryRelease, type RolloutAction } from './canary-release.js';
import { confirmation } from './provisional.js';
import { ServicePlugins } from './service-plugins.js';
import { AirlockError, fullCode } from '../errors.js';
import { CANCEL_CHANGE, CANCEL_STOP } from './build-step.js';
import { Recovery } from './recovery.js';
import { Generations } from './generations.js';
import { ReloadScheduler, type Reload } from './reload-scheduler.js';
import { serviceStatus, type ServiceStatus } from './service-status.js';

export type { ServiceStatus };

/** The detect phase split up: the detector's steps, and how long the change waited for its reload. */
function partsOf(timing: DetectTiming | undefined, queuedMs: number, confirmMs: number): DetectParts | undefined {
  if (timing === undefined) return undefined;
  const confirm = timing.provisional ? { confirm: confirmMs } : {};
  const parts = { settle: timing.settleMs, hash: timing.hashMs, graph: timing.graphMs, queued: queuedMs, ...confirm };
  return timing.watcherMs === undefined ? parts : { watcher: timing.watcherMs, ...parts };
}

export interface ServiceOptions {
  /** Shared across services: how many builds may run at once. */
  readonly slots?: BuildSlots;
  /** Give each reload a W3C trace context (reload.started) and each generation its TRACEPARENT. */
  readonly traceContext?: boolean;
}

/**
 * One service's pipeline, wired from its seams (docs/architecture.md): the reload
 * scheduler decides when a reload runs; an artifact source (a build, or a reuse) gives it
 * something to run; the generations start it; the health gate says whether it may take
 * traffic; the traffic policy moves traffic over the handoff; the failure policy decides
 * what follows a failure. The running generation is only touched after a good build.
 *
 * @example
 *   const service = new ServiceRunner(plan, bus, {});
 *   await service.start();
 *   service.reload(['main.go']);
 *   await service.stop();
 */
export class ServiceRunner {
  #plan: ServicePlan;
  readonly #handoff: Handoff;
  readonly #policy: TrafficPolicy;
  readonly #builds: Builds;
  readonly #generations: Generations;
  readonly #scheduler: ReloadScheduler<ArtifactSource>;
  readonly #recovery: Recovery;
  readonly #release: CanaryRelease;
  /** Go plugins airlock builds for this service (plugins.go), and its plugin directory watched for the app (plugins.dir). */
  readonly #plugins: ServicePlugins;
  /** Builds from sources so far: the identity of a build that has no artifact file. */
  #sourceBuilds = 0;
  #liveness: LivenessMonitor | undefined;
  #current: Generation | undefined;
  /** The artifact of the generation before the current one: what a rollback restores. */
  #previousArtifact: string | undefined;
  /** The artifact of the last generation started, for restarts when none is current. */
  #lastArtifact: string | undefined;
  #build: AbortController | undefined;
  readonly #stopping = new AbortController();
  /** Resolves false once airlock stops: a wait for a confirmation ends with it. */
  readonly #stopped = new Promise<false>((resolve) => this.#stopping.signal.addEventListener('abort', () => resolve(false), { once: true }));
  #n = 0;
  #traceparent: string | undefined;
  /** The env files as read when the current reload began: its build, probes and process share them. */
  #fileEnv: Readonly<Record<string, string>> = {};
  #started = false;
  /** Set by the daemon while the app's config files are refused. */
  configRejected: string | undefined;
  #markReady: () => void = () => undefined;
  /** Whether Go plugin packages are watched (airlock dev) or only built with each generation (airlock run). */
  watchPlugins = true;
  /** The control socket, for the app's plugin host to hear of plugin changes on. */
  controlSocket: string | undefined;
  /** Resolves when the service's first generation is ready (dependsOn waits on it). */
  readonly firstReady = new Promise<void>((resolve) => (this.#markReady = resolve));

  constructor(
    plan: ServicePlan,
    private readonly bus: EventBus,
    private readonly options: ServiceOptions,
  ) {
    this.#plan = plan;
    const service = plan.name;
    this.#handoff = createHandoff(plan, {
      probeFor: (address, connectCounts, env) => this.#probeFor(address, connectCounts, env),
      onProxyError: (message) => bus.emit({ type: 'proxy.error', service, message }),
      debugHeaders: () => this.#plan.rollout.debugHeaders,
    });
    this.#builds = new Builds(() => this.#plan, bus, options.slots);
    this.#plugins = new ServicePlugins(() => this.#plan, bus, options.slots, () => [this.#current, this.#release.canary].filter((g) => g !== undefined));
    this.#generations = new Generations(() => this.#plan, bus, (generation) => this.#exited(generation));
    this.#policy = trafficPolicy(this.#handoff, {
      stop: (generation) => this.#generations.stop(generation),
      drainMs: () => this.#plan.stop.drainMs,
      onDrained: (generation, ms) => bus.emit({ type: 'generation.drained', service, generation: generation.n, ms }),
      onError: (error) => this.#internal('draining', error),
    });
    this.#release = new CanaryRelease({
      bus,
      plan: () => this.#plan,
      handoff: this.#handoff,
      policy: this.#policy,
      promoted: (canary, probe, stable) => {
        this.#liveness?.stop();
        this.#previousArtifact = stable.artifact;
        this.#current = canary;
        this.#lastArtifact = canary.artifact;
        canary.promotedAt = performance.now();
        this.#watchLiveness(canary, probe);
      },
    });
    this.#scheduler = new ReloadScheduler<ArtifactSource>({
      run: (reload) => this.#cycle(reload),
      supersede: () => this.#build?.abort(CANCEL_CHANGE),
      merge: mergeSources,
      failed: (error) => this.#internal('reload', error),
    });
    this.#recovery = new Recovery({
      bus,
      plan: () => this.#plan,
      scheduler: this.#scheduler,
      handoff: this.#handoff,
      builds: this.#builds,
      current: () => this.#current,
      stopped: () => this.#stopping.signal.aborted,
    });
  }

  /** The probe of the generation being started (the newest), against its own address and environment. */
  #probeFor(address: ProbeAddress | undefined, connectCounts: boolean, env: Readonly<Record<string, string>>): Probe | undefined {
    if (this.plan.health.probe?.kind === 'tcp' && !connectCounts) return undefined;
    const n = this.#n;
    const context = { health: this.plan.health, address, cwd: this.plan.dir, env: { ...generationEnv(this.plan, n, this.#fileEnv), ...env } };
    return buildProbe({ ...context, logProbe: () => this.#generations.logProbe(n) });
  }

  /** What the service runs by; each generation starts from the plan in force then. */
  get plan(): ServicePlan {
    return this.#plan;
  }

  /** An edit of airlock.yaml changed this service (same address and handoff); whether a generation starts now is the caller's decision. */
  async update(plan: ServicePlan): Promise<void> {
    const plugins = !isDeepStrictEqual(this.#plan.plugins, plan.plugins);
    this.#plan = plan;
    // Watch what the new settings name before a generation is told about it.
    if (plugins && this.#started) {
      // A package removed since validation, say: reported; the service and the edit go on.
      await this.#plugins.restart(this.watchPlugins, this.controlSocket).catch((error: unknown) =>
        this.bus.emit({ type: 'error', service: plan.name, code: fullCode(error instanceof AirlockError ? error.code : 'INTERNAL'), message: `plugins: ${(error as Error).message}` }),
      );
    }
  }

  get current(): Generation | undefined {
    return this.#current;
  }

  status(): ServiceStatus {
    const state = this.#stopping.signal.aborted ? 'stopped' : this.#build ? 'building' : !this.#started ? 'waiting' : this.#somethingRuns() ? 'ready' : this.#scheduler.busy ? 'starting' : 'down';
    const others = this.#generations.others(this.#current);
    const canary = this.#release.canary;
    const shown = { starting: others.starting.filter((g) => g !== canary), draining: others.draining };
    const rollout = this.#release.status();
    return { ...serviceStatus(this.plan, state, this.#current, shown, this.configRejected), ...(rollout ? { rollout } : {}) };
  }

  /** `airlock rollout promote|abort|pause|resume`: an error text when no rollout is in progress. */
  rollout(action: RolloutAction): string | undefined {
    return this.#release.act(action);
  }

  async start(): Promise<void> {
    if (this.#stopping.signal.aborted) return;
    await this.#handoff.open();
    this.#started = true;
    await this.#plugins.start(this.watchPlugins, this.controlSocket);
    if (this.plan.listen === undefined) {
      const message = 'no listen address: each reload stops the old process before the new one starts, so a server is down for the gap; for zero downtime set listen (--listen 8080, or listen: in airlock.yaml) and serve on $PORT';
      this.bus.emit({ type: 'notice', service: this.plan.name, message });
    }
    this.reload(['start']);
  }

  /** deliver: signal — tells the generation that takes traffic to re-read its config snapshot. */
  signalCurrent(signal: NodeJS.Signals): void {
    if (!this.#somethingRuns()) return;
    try {
      process.kill((this.#current as Generation).child.pid, signal);
    } catch {
      // it just ended: the next generation reads the new snapshot at start
    }
  }

  /** An env file, app config or the run settings changed: a generation of the same build starts with them. */
  restartSameBuild(reason: string): void {
    if (this.#started) this.#scheduler.request([reason], reuse(this.#builds));
  }

  /** Rebuild and swap now (a change, SIGHUP, `airlock reload`); cancels a build in progress. Before start, nothing to do. */
  reload(reasons: readonly string[], detectStartedAt?: number, timing?: DetectTiming): void {
    if (this.#started) this.#scheduler.request(reasons, this.#builds, detectStartedAt, timing);
  }

  /** A failure nothing expected, in this service only: reported once with its stack; airlock and the other services go on. */
  #internal(what: string, error: unknown): void {
    this.bus.emit(internalError(this.plan.name, what, error));
  }

  async #cycle(reload: Reload<ArtifactSource>): Promise<void> {
    const n = ++this.#n;
    const service = this.plan.name;
    if (this.options.traceContext) {
      const trace = { traceId: randomBytes(16).toString('hex'), spanId: randomBytes(8).toString('hex') };
      this.#traceparent = `00-${trace.traceId}-${trace.spanId}-01`;
      this.bus.emit({ type: 'reload.started', service, generation: n, ...trace });
    }
    const phases: Partial<Record<Phase, number>> = { detect: performance.now() - reload.detectStartedAt };
    const queuedMs = reload.timing ? performance.now() - reload.timing.handedAt : 0;
    try {
      this.#fileEnv = readEnvFiles(this.plan.run.envFiles);
    } catch (error) {
      // A missing env file fails this reload, not airlock; with nothing serving it is tried again (it may come back unchanged).
      return this.#recovery.failedStart(n, 'ENV_FILE', `cannot read env file: ${(error as Error).message}`, [], 0, reload.source);
    }
    this.#generations.copyConfig(n);
    const provisional = reload.timing?.provisional;
    const obtained = await this.#obtain(n, reload.source, provisional?.signal);
    if (!obtained.ok || this.#stopping.signal.aborted) return;
    // Built before the burst rules confirmed the change was alone: it swaps only once they do.
    const confirmMs = await confirmation(provisional, this.#stopped);
    if (confirmMs === undefined) {
      if (!this.#stopping.signal.aborted) this.bus.emit({ type: 'build.cancelled', service, generation: n, reason: 'more changes arrived before this build was used' });
      return;
    }
    if (obtained.buildMs !== undefined) phases.build = obtained.buildMs;
    this.#scheduler.cancelRetry();
    if (reload.source.kind === 'build') {
      this.#scheduler.resetBackoff();
      this.#sourceBuilds += 1;
    }
    const { identity, refused } = await this.#release.screen(n, obtained.artifact, this.#sourceBuilds, this.#current);
    if (refused !== undefined) return this.bus.emit({ type: 'reload.failed', service, generation: n, code: fullCode('ROLLOUT_BAD_BUILD'), message: refused, tail: [] });
    const swapped = await this.#swap(n, obtained.artifact, phases, identity);
    if (swapped === undefined) return;
    this.#markReady();
    const totalMs = performance.now() - reload.detectStartedAt;
    const { next, probed } = swapped;
    const detectParts = partsOf(reload.timing, queuedMs, confirmMs);
    this.#plugins.newHost(n);
    this.bus.emit({ type: 'reload.ready', service, generation: n, pid: next.child.pid, totalMs, phases, reason: [...reload.reasons], probed, ...(detectParts ? { detectParts } : {}) });
  }

  async #obtain(n: number, source: ArtifactSource, cancelled: AbortSignal | undefined) {
    const controller = new AbortController();
    this.#build = controller;
    // An early change that more changes cancelled: its build is killed at once.
    const onCancel = () => controller.abort(CANCEL_CHANGE);
    if (cancelled?.aborted) onCancel();
    cancelled?.addEventListener('abort', onCancel, { once: true });
    const inUse = [this.#current?.artifact, this.#previousArtifact, this.#release.canary?.artifact].filter((path): path is string => path !== undefined);
    // Mid-rollout the newest build is the canary's: a restart of "the same build" restarts that one.
    const same = this.#release.canary?.artifact ?? this.#current?.artifact ?? this.#lastArtifact ?? this.#builds.lastBuilt;
    try {
      return await source.obtain({ n, signal: controller.signal, fileEnv: this.#fileEnv, inUse, same, keeps: this.#recovery.keeps('running') });
    } finally {
      cancelled?.removeEventListener('abort', onCancel);
      if (this.#build === controller) this.#build = undefined;
    }
  }

  /** Starts generation n, gates it on its health, and moves traffic to it; undefined when it never became ready. */
  async #swap(n: number, artifact: string | undefined, phases: Partial<Record<Phase, number>>, identity: string | undefined): Promise<{ next: Generation; probed: boolean } | undefined> {
    let mark = performance.now();
    const lap = (phase: Phase) => {
      phases[phase] = performance.now() - mark;
      mark = performance.now();
    };
    const launch = await this.#handoff.launch(n);
    const old = this.#current;
    if (this.#handoff.stopsFirst && old) this.#liveness?.stop();
    if (await this.#policy.beforeStart(old)) lap('stop');
    const next = this.#generations.start(n, artifact, { ...launch, env: { ...this.#plugins.env(), ...launch.env } }, this.#fileEnv, this.#traceparent);
    lap('start');
    const { probe, settleMs } = await launch.readiness(next.child);
    const verdict = await healthGate({ plan: this.plan, child: next.child, probe, settleMs, signal: this.#stopping.signal });
    lap('ready');
    if (!verdict.ready) {
      await this.#generations.stop(next);
      // Cut short because airlock stops: nothing failed.
      if (!this.#stopping.signal.aborted) this.#recovery.failedStart(n, verdict.code, verdict.detail, next.child.tail(), performance.now() - next.startedAt, reuse(this.#builds, artifact));
      return undefined;
    }
    this.#recovery.served();
    if (identity !== undefined && this.#release.wants(old)) {
      // A canary: it takes a share of users; the stable generation stays current until promotion.
      this.#release.begin(next, launch, old, probe, identity);
      lap('swap');
      return { next, probed: probe !== undefined };
    }
    this.#release.takeOverInstead();
    this.#liveness?.stop();
    this.#policy.takeOver(next, launch, old);
    next.promotedAt = performance.now();
    if (old) this.#previousArtifact = old.artifact;
    this.#current = next;
    this.#lastArtifact = artifact;
    this.#watchLiveness(next, probe);
    lap('swap');
    return { next, probed: probe !== undefined };
  }

  #watchLiveness(generation: Generation, probe: Probe | undefined): void {
    const monitor = new LivenessMonitor(probe, generation.child, this.plan.health);
    this.#liveness = monitor;
    monitor.start((detail) => {
      if (this.#current !== generation || this.#stopping.signal.aborted) return;
      this.bus.emit({ type: 'health.failed', service: this.plan.name, generation: generation.n, detail });
      this.#servingFailed(generation, detail);
    });
  }

  #somethingRuns(): boolean {
    return this.#current !== undefined && this.#current.child.end === undefined;
  }

  #exited(generation: Generation): void {
    const end = generation.child.end;
    if (end === undefined || generation.stopping || this.#stopping.signal.aborted) return;
    // During a rollout: the canary's end aborts it, the stable one's promotes the canary.
    if (this.#release.exited(generation, describeEnd(end))) return;
    if (generation !== this.#current) return;
    this.#liveness?.stop();
    // No generation serves now: proxies hold new requests until a replacement is ready.
    this.#handoff.route(undefined, undefined);
    // A clean exit of a ready generation waits for the next change; a crash is replaced.
    if (!isSuccess(end)) this.#servingFailed(generation, describeEnd(end));
  }

  #servingFailed(failed: Generation, why: string): void {
    if (this.#recovery.servingFailed(failed, why, this.#previousArtifact, this.#n + 1)) this.#previousArtifact = undefined;
  }

  /** Stops watching, cancels any build or start, and stops every generation gracefully. */
  async stop(): Promise<void> {
    this.#stopping.abort();
    this.#liveness?.stop();
    this.#release.stop();
    await this.#plugins.stop();
    this.#build?.abort(CANCEL_STOP);
    await this.#scheduler.stop();
    // Also after a crash: descendants the leader left behind still go.
    await this.#generations.stopAll(this.#current);
    await this.#policy.drained();
    await this.#handoff.close();
  }

  /** Second Ctrl-C: SIGKILL every process group at once. */
  killNow(): void {
    this.#stopping.abort();
    this.#build?.abort(CANCEL_STOP);
    this.#generations.killAll(this.#current);
    this.#handoff.destroy();
  }
}
