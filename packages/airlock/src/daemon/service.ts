import { randomBytes } from 'node:crypto';
import { copyFileSync, rmSync } from 'node:fs';
import { ArtifactStore } from '../build/artifacts.js';
import { buildGeneration, CANCEL_CHANGE, CANCEL_STOP } from './build-step.js';
import { explainStartFailure } from './diagnose.js';
import type { BuildSlots } from '../build/slots.js';
import { readEnvFiles, type ServicePlan } from '../config/plan.js';
import { fullCode } from '../errors.js';
import type { EventBus, Phase } from '../events.js';
import { Backoff } from '../supervise/backoff.js';
import { describeEnd, isSuccess } from '../supervise/process-end.js';
import { killNow } from '../supervise/stop.js';
import { LogProbe } from '../health/log.js';
import { LivenessMonitor, waitUntilReady } from '../health/monitor.js';
import type { Probe } from '../health/probe.js';
import { buildProbe, type ProbeAddress } from '../health/probes.js';
import { createHandoff } from '../swap/create.js';
import { generationConfigFile, generationEnv, startGeneration, stopGeneration, type Generation } from '../swap/generation.js';
import type { Handoff, Launch } from '../swap/handoff.js';

/** After this many failed starts in a row with nothing serving, the proxy stops holding requests. */
const CRASH_LOOP_STARTS = 3;

export interface ServiceOptions {
  /** Shared across services: how many builds may run at once. */
  readonly slots?: BuildSlots;
  /** Give each reload a W3C trace context (reload.started) and each generation its TRACEPARENT. */
  readonly traceContext?: boolean;
}

/** A service as `airlock status` reports it. */
export interface ServiceStatus {
  readonly name: string;
  readonly handoff: string;
  readonly listen: string | undefined;
  /** waiting (for dependsOn), building, starting, ready, down (crashed, retrying), stopped. */
  readonly state: 'waiting' | 'building' | 'starting' | 'ready' | 'down' | 'stopped';
  /** The generation that takes traffic, and its pid while it runs. */
  readonly generation: number | undefined;
  readonly pid: number | undefined;
  readonly uptimeMs: number | undefined;
  readonly starting: readonly { generation: number; pid: number }[];
  readonly draining: readonly { generation: number; pid: number }[];
  /** The last app config change refused (file:line: message), until a valid one arrives. */
  readonly configRejected: string | undefined;
}

interface PendingReload {
  reasons: Set<string>;
  detectStartedAt: number;
  /** False only for a restart after a crash, which reuses the running artifact. */
  rebuild: boolean;
  /** The artifact to run instead of the current one (rollback). */
  artifact?: string;
}

/**
 * One service's pipeline: watch → debounce → content check → build → swap. Reloads run
 * one at a time; a change during a build cancels it and starts over, a change during a
 * swap queues the next reload. The running generation is only touched after a good build.
 *
 * @example
 *   const service = new ServiceRunner(plan, bus, { watch: true });
 *   await service.start();
 *   ...
 *   await service.stop();
 */
export class ServiceRunner {
  #plan: ServicePlan;
  #artifacts: ArtifactStore | undefined;
  readonly #backoff = new Backoff();
  readonly #handoff: Handoff;
  readonly #generationsAlive = new Set<Generation>();
  readonly #draining = new Set<Promise<void>>();
  readonly #logProbes = new Map<number, LogProbe>();
  #liveness: LivenessMonitor | undefined;
  #current: Generation | undefined;
  /** The artifact of the generation before the current one: what a rollback restores. */
  #previousArtifact: string | undefined;
  /** The artifact of the last generation started, for restarts when none is current. */
  #lastArtifact: string | undefined;
  /** The newest good build, which may never have become ready (a crash loop since start). */
  #lastBuilt: string | undefined;
  #pending: PendingReload | undefined;
  #build: AbortController | undefined;
  #loop: Promise<void> | undefined;
  #restartTimer: NodeJS.Timeout | undefined;
  #generations = 0;
  /** The current reload's trace context, handed to the generation it starts. */
  #traceparent: string | undefined;
  /** The env files as read when the current reload began: its build, probes and process share them. */
  #fileEnv: Readonly<Record<string, string>> = {};
  #started = false;
  #stopped = false;
  /** Starts that failed one after another with nothing serving. */
  #failedInARow = 0;

  constructor(
    plan: ServicePlan,
    private readonly bus: EventBus,
    private readonly options: ServiceOptions,
  ) {
    this.#plan = plan;
    this.#artifacts = plan.artifact ? new ArtifactStore(plan.artifact) : undefined;
    this.#handoff = createHandoff(plan, {
      probeFor: (address, connectCounts, env) => this.#probeFor(address, connectCounts, env),
      onProxyError: (message) => this.bus.emit({ type: 'proxy.error', service: plan.name, message }),
    });
  }

  /** The probe of the generation being started (the newest), against its own address and environment. */
  #probeFor(address: ProbeAddress | undefined, connectCounts: boolean, env: Readonly<Record<string, string>>): Probe | undefined {
    if (this.plan.health.probe?.kind === 'tcp' && !connectCounts) return undefined;
    const n = this.#generations;
    return buildProbe({
      health: this.plan.health,
      address,
      cwd: this.plan.dir,
      env: { ...generationEnv(this.plan, n, this.#fileEnv), ...env },
      // Looked up at probe time: in proxy modes the probe exists before the process does.
      logProbe: async () => (await this.#logProbes.get(n)?.probe()) ?? { ok: false, detail: 'no output yet' },
    });
  }

  /** What the service runs by; each generation starts from the plan in force then. */
  get plan(): ServicePlan {
    return this.#plan;
  }

  /**
   * An edit of airlock.yaml changed this service (same name, listen, handoff and proxy:
   * see plan-change.ts). The next build and generation use the new plan; whether one
   * starts now is the caller's decision.
   */
  update(plan: ServicePlan): void {
    if (plan.artifact !== this.#plan.artifact) this.#artifacts = plan.artifact ? new ArtifactStore(plan.artifact) : undefined;
    this.#plan = plan;
  }

  /** Set by the daemon while the app's config files are refused. */
  configRejected: string | undefined;

  #markReady: () => void = () => undefined;
  /** Resolves when the service's first generation is ready (dependsOn waits on it). */
  readonly firstReady = new Promise<void>((resolve) => (this.#markReady = resolve));

  get current(): Generation | undefined {
    return this.#current;
  }

  /** What `airlock status` shows for this service. */
  status(): ServiceStatus {
    const current = this.#current;
    const running = current !== undefined && current.child.end === undefined;
    return {
      name: this.plan.name,
      handoff: this.plan.handoff,
      listen: this.plan.listen ? `${this.plan.listen.host}:${this.plan.listen.port}` : undefined,
      state: this.#stopped ? 'stopped' : this.#build ? 'building' : !this.#started ? 'waiting' : running ? 'ready' : this.#loop ? 'starting' : 'down',
      generation: current?.n,
      pid: running ? current.child.pid : undefined,
      uptimeMs: running && current.promotedAt !== undefined ? Math.round(performance.now() - current.promotedAt) : undefined,
      starting: [...this.#generationsAlive].filter((g) => g !== current && !g.stopping).map((g) => ({ generation: g.n, pid: g.child.pid })),
      draining: [...this.#generationsAlive].filter((g) => g !== current && g.stopping).map((g) => ({ generation: g.n, pid: g.child.pid })),
      configRejected: this.configRejected,
    };
  }

  async start(): Promise<void> {
    if (this.#stopped) return;
    await this.#handoff.open();
    this.#started = true;
    this.reload(['start']);
  }

  /** deliver: signal — tells the generation that takes traffic to re-read its config snapshot. */
  signalCurrent(signal: NodeJS.Signals): void {
    const current = this.#current;
    if (current === undefined || current.child.end !== undefined) return;
    try {
      process.kill(current.child.pid, signal);
    } catch {
      // it just ended: the next generation reads the new snapshot at start
    }
  }

  /**
   * An env file, app config or the run settings changed: start a generation of the same
   * build with them, through the service's handoff (each generation sees one snapshot).
   */
  restartSameBuild(reason: string): void {
    if (this.#started) this.#request([reason], performance.now(), false, this.#current?.artifact);
  }

  /**
   * Rebuild and swap now (a change, SIGHUP, `airlock reload`); cancels a build in
   * progress. Before start (waiting on dependsOn) there is nothing to do: the first build
   * reads the files as they are then.
   */
  reload(reasons: readonly string[], detectStartedAt = performance.now()): void {
    if (this.#started) this.#request(reasons, detectStartedAt, true);
  }

  #request(reasons: readonly string[], detectStartedAt: number, rebuild: boolean, artifact?: string): void {
    if (this.#stopped) return;
    const pending = (this.#pending ??= { reasons: new Set(), detectStartedAt, rebuild, artifact });
    pending.rebuild ||= rebuild;
    if (rebuild) pending.artifact = undefined;
    for (const reason of reasons) pending.reasons.add(reason);
    this.#build?.abort(CANCEL_CHANGE);
    this.#loop ??= this.#runPending().finally(() => (this.#loop = undefined));
  }

  async #runPending(): Promise<void> {
    while (this.#pending !== undefined && !this.#stopped) {
      const pending = this.#pending;
      this.#pending = undefined;
      try {
        await this.#cycle(pending);
      } catch (error) {
        // Whatever went wrong, airlock and the running generation stay up.
        this.#internal('reload', error);
      }
    }
  }

  /** A failure nothing expected, in this service only: reported once with its stack; airlock and the other services go on. */
  #internal(what: string, error: unknown): void {
    const message = `${what} failed unexpectedly: ${(error as Error).stack ?? String(error)}`;
    this.bus.emit({ type: 'error', service: this.plan.name, code: fullCode('INTERNAL'), message });
  }

  /**
   * Reads the env files for generation n; a missing or unreadable one fails the reload,
   * not airlock. With nothing serving, the same reload is tried again with backoff (the
   * file may come back unchanged, which no watcher reports).
   */
  #readEnvFiles(n: number, pending: PendingReload): boolean {
    try {
      this.#fileEnv = readEnvFiles(this.plan.run.envFiles);
      return true;
    } catch (error) {
      const message = `g${n}: cannot read env file: ${(error as Error).message}${this.#keepsServing()}`;
      this.bus.emit({ type: 'reload.failed', service: this.plan.name, generation: n, code: fullCode('ENV_FILE'), message, tail: [] });
      if (!this.#somethingRuns()) {
        const artifact = pending.artifact ?? this.#current?.artifact ?? this.#lastArtifact;
        this.#scheduleRetry(n, 0, `retry after g${n}: cannot read env file`, { rebuild: pending.rebuild, artifact, obsolete: () => this.#somethingRuns() });
      }
      return false;
    }
  }

  async #cycle(pending: PendingReload): Promise<void> {
    const n = ++this.#generations;
    if (this.options.traceContext) {
      const trace = { traceId: randomBytes(16).toString('hex'), spanId: randomBytes(8).toString('hex') };
      this.#traceparent = `00-${trace.traceId}-${trace.spanId}-01`;
      this.bus.emit({ type: 'reload.started', service: this.plan.name, generation: n, ...trace });
    }
    const phases: Partial<Record<Phase, number>> = { detect: performance.now() - pending.detectStartedAt };
    if (!this.#readEnvFiles(n, pending)) return;
    this.#copyConfigSnapshot(n);
    let artifact = pending.artifact ?? this.#current?.artifact ?? this.#lastArtifact ?? this.#lastBuilt;
    // A service that has nothing built to run (its first build failed) builds, whatever asked.
    const rebuild = pending.rebuild || (this.plan.artifact !== undefined && artifact === undefined);
    if (this.plan.build && rebuild) {
      const buildStarted = performance.now();
      if (!(await this.#runBuild(n))) return;
      phases.build = performance.now() - buildStarted;
      const keep = [this.#current?.artifact, this.#previousArtifact].filter((path): path is string => path !== undefined);
      artifact = this.#artifacts?.commit(n, keep);
      this.#lastBuilt = artifact;
    }
    if (this.#stopped) return;
    this.#clearRestartTimer();
    // A new version gets a fresh backoff; a crash-restarted one keeps counting.
    if (pending.rebuild) this.#backoff.reset();
    const next = await this.#swap(n, artifact, phases);
    if (next === undefined) return;
    this.#markReady();
    this.bus.emit({
      type: 'reload.ready',
      service: this.plan.name,
      generation: n,
      pid: next.child.pid,
      totalMs: performance.now() - pending.detectStartedAt,
      phases,
      reason: [...pending.reasons],
    });
  }

  /**
   * Starts generation n beside (or, for restart, after) the current one, waits until it
   * is ready, routes traffic to it and retires the old one. Returns it, or undefined
   * when it never became ready (the old one keeps everything, unless it was already stopped).
   */
  async #swap(n: number, artifact: string | undefined, phases: Partial<Record<Phase, number>>): Promise<Generation | undefined> {
    let mark = performance.now();
    const lap = (phase: Phase) => {
      const now = performance.now();
      phases[phase] = now - mark;
      mark = now;
    };
    const launch = await this.#handoff.launch(n);
    const old = this.#current;
    if (this.#handoff.stopsFirst && old) {
      this.#liveness?.stop();
      this.#handoff.route(undefined, undefined);
      await stopGeneration(this.plan, old);
      this.#retired(old);
      lap('stop');
    }
    const next = this.#spawn(n, artifact, launch);
    lap('start');
    const { probe, settleMs } = await launch.readiness(next.child);
    const verdict = await waitUntilReady({ probe, child: next.child, health: this.plan.health, settleMs });
    lap('ready');
    if (!verdict.ready) {
      await this.#failStart(next, verdict.reason, verdict.detail);
      return undefined;
    }
    launch.promote(next.child);
    this.#failedInARow = 0;
    this.#handoff.route(n, launch);
    next.promotedAt = performance.now();
    this.#liveness?.stop();
    if (old) this.#previousArtifact = old.artifact;
    this.#current = next;
    this.#lastArtifact = artifact;
    this.#watchLiveness(next, probe);
    lap('swap');
    if (old && !this.#handoff.stopsFirst) {
      const draining = this.#drainOld(old).finally(() => this.#draining.delete(draining));
      this.#draining.add(draining);
    }
    return next;
  }

  /** Lets the old generation finish what it holds, then stops it. */
  async #drainOld(old: Generation): Promise<void> {
    const started = performance.now();
    old.stopping = true;
    await this.#handoff.retire(old.n, this.plan.stop.drainMs);
    await stopGeneration(this.plan, old);
    this.#retired(old);
    this.bus.emit({ type: 'generation.drained', service: this.plan.name, generation: old.n, ms: performance.now() - started });
  }

  #retired(generation: Generation): void {
    this.#logProbes.delete(generation.n);
    this.#removeConfigCopy(generation.n);
  }

  #removeConfigCopy(n: number): void {
    const own = generationConfigFile(this.plan, n);
    if (own !== undefined && own !== this.plan.appConfig?.snapshot) rmSync(own, { force: true });
  }

  /** deliver: restart — generation n gets its own copy of the snapshot validated for it. */
  #copyConfigSnapshot(n: number): void {
    const own = generationConfigFile(this.plan, n);
    const snapshot = this.plan.appConfig?.snapshot;
    if (own === undefined || snapshot === undefined || own === snapshot) return;
    try {
      copyFileSync(snapshot, own);
    } catch {
      // no valid snapshot yet: the service waits for one before it starts
    }
  }

  #watchLiveness(generation: Generation, probe: Probe | undefined): void {
    const monitor = new LivenessMonitor(probe, generation.child, this.plan.health);
    this.#liveness = monitor;
    monitor.start((detail) => {
      if (this.#current !== generation || this.#stopped) return;
      this.bus.emit({ type: 'health.failed', service: this.plan.name, generation: generation.n, detail });
      try {
        this.#replaceFailed(generation, detail);
      } catch (error) {
        this.#internal('replacing a failed generation', error);
      }
    });
  }

  /**
   * A generation that took traffic and then failed (crash, probes, memory): within the
   * rollback window the previous artifact comes back without a rebuild; later, the same
   * artifact restarts with backoff.
   */
  #replaceFailed(failed: Generation, why: string): void {
    const since = performance.now() - (failed.promotedAt ?? failed.startedAt);
    const previous = this.#previousArtifact;
    if (since <= this.plan.health.rollbackWindowMs && previous !== undefined && previous !== failed.artifact) {
      const message = `g${failed.n} failed ${Math.round(since)} ms after it took traffic (${why}); rolling back to the previous build`;
      this.bus.emit({ type: 'rollback', service: this.plan.name, generation: this.#generations + 1, failed: failed.n, code: fullCode('ROLLED_BACK'), message });
      this.#previousArtifact = undefined;
      this.#request([`rollback from g${failed.n}`], performance.now(), false, previous);
      return;
    }
    // A reload done meanwhile brought its own new generation.
    this.#scheduleRetry(failed.n, performance.now() - failed.startedAt, `restart after g${failed.n} ${why}`, {
      rebuild: false,
      artifact: undefined,
      obsolete: () => this.#current !== failed,
    });
  }

  /** Builds generation n; the running generation is untouched whatever happens. */
  async #runBuild(n: number): Promise<boolean> {
    const controller = new AbortController();
    this.#build = controller;
    try {
      return await buildGeneration(
        {
          plan: this.plan,
          bus: this.bus,
          artifactPath: this.#artifacts?.buildPath ?? '',
          slots: this.options.slots,
          fileEnv: this.#fileEnv,
          keeps: () => (this.#current ? `; g${this.#current.n} (pid ${this.#current.child.pid}) keeps running` : ''),
        },
        n,
        controller.signal,
      );
    } finally {
      if (this.#build === controller) this.#build = undefined;
    }
  }

  #spawn(n: number, artifact: string | undefined, launch: Launch): Generation {
    const log = this.plan.health.probe?.kind === 'log' ? new LogProbe(this.plan.health.probe.pattern) : undefined;
    if (log) this.#logProbes.set(n, log);
    const traced = this.#traceparent ? { ...launch, env: { ...launch.env, TRACEPARENT: this.#traceparent } } : launch;
    const generation = startGeneration({ plan: this.plan, n, artifact, launch: traced, fileEnv: this.#fileEnv }, (stream, line) => {
      log?.see(line);
      this.bus.emit({ type: 'process.output', service: this.plan.name, generation: n, stream, line });
    });
    if (generation.child.pid > 0) {
      this.bus.emit({ type: 'process.started', service: this.plan.name, generation: n, pid: generation.child.pid });
    }
    this.#generationsAlive.add(generation);
    generation.child.ended.then(() => this.#onExit(generation)).catch((error: unknown) => this.#internal('handling an exit', error));
    return generation;
  }

  async #failStart(generation: Generation, reason: string, detail: string): Promise<void> {
    const { n, child } = generation;
    await stopGeneration(this.plan, generation);
    this.#retired(generation);
    const code =
      reason === 'timeout'
        ? this.plan.health.probe
          ? 'HEALTH_FAILED'
          : 'START_TIMEOUT'
        : reason === 'memory'
          ? 'MEMORY_GROWTH'
          : (await child.spawned)
            ? 'PROCESS_CRASHED'
            : 'START_FAILED';
    const why = reason === 'exited' ? explainStartFailure(this.plan, child.tail()) : undefined;
    const message = `g${n}: ${detail}${why ? `: ${why}` : ''}${this.#keepsServing()}`;
    this.bus.emit({ type: 'reload.failed', service: this.plan.name, generation: n, code: fullCode(why ? 'PORT_CONFLICT' : code), message, tail: child.tail() });
    // With restart the old one is gone already: keep trying with backoff, as after a crash.
    if (!this.#somethingRuns()) {
      this.#failedInARow += 1;
      // Known to be crash-looping: held requests get the reason now instead of waiting proxy.hold.
      if (this.#failedInARow >= CRASH_LOOP_STARTS) this.#handoff.unavailable(`${this.plan.name} is crash-looping: ${message}`);
      const ranMs = performance.now() - generation.startedAt;
      this.#scheduleRetry(n, ranMs, `retry after g${n}: ${detail}`, { rebuild: false, artifact: generation.artifact, obsolete: () => this.#somethingRuns() });
    }
  }

  /** `; g3 (pid 123) keeps serving` while a generation runs, for failure messages. */
  #keepsServing(): string {
    return this.#somethingRuns() ? `; g${this.#current?.n} (pid ${this.#current?.child.pid}) keeps serving` : '';
  }

  /**
   * Starts again after a backoff (generation n ran for ranMs): after a crash, or with
   * nothing serving after a failed start. Skipped when a reload is under way by then, or
   * when `obsolete` says something else already took its place.
   */
  #scheduleRetry(n: number, ranMs: number, reason: string, what: { rebuild: boolean; artifact: string | undefined; obsolete: () => boolean }): void {
    if (this.#stopped) return;
    const delayMs = this.#backoff.next(ranMs);
    this.bus.emit({ type: 'process.restarting', service: this.plan.name, generation: n, delayMs });
    this.#restartTimer = setTimeout(() => {
      this.#restartTimer = undefined;
      if (this.#loop !== undefined || what.obsolete()) return;
      this.#request([reason], performance.now(), what.rebuild, what.artifact);
    }, delayMs);
  }

  /** True while a generation runs: a retry for a failed start is not needed then. */
  #somethingRuns(): boolean {
    return this.#current !== undefined && this.#current.child.end === undefined;
  }

  #onExit(generation: Generation): void {
    const end = generation.child.end;
    this.#generationsAlive.delete(generation);
    // Whatever ended it, nothing reads its config copy any more.
    this.#removeConfigCopy(generation.n);
    if (end === undefined) return;
    this.bus.emit({
      type: 'process.exited',
      service: this.plan.name,
      generation: generation.n,
      pid: generation.child.pid,
      end,
      expected: generation.stopping,
      // Stopped, yet ended by SIGKILL: the grace period ran out (stop.ts escalates to it).
      forced: generation.stopping && end.kind === 'signal' && end.signal === 'SIGKILL' && this.plan.stop.signal !== 'SIGKILL',
    });
    if (generation.stopping || this.#stopped || generation !== this.#current) return;
    this.#liveness?.stop();
    // No generation serves now: proxies hold new requests until a replacement is ready.
    this.#handoff.route(undefined, undefined);
    // A clean exit waits for the next change; a crash is replaced.
    if (isSuccess(end)) return;
    this.#replaceFailed(generation, describeEnd(end));
  }

  #clearRestartTimer(): void {
    if (this.#restartTimer !== undefined) clearTimeout(this.#restartTimer);
    this.#restartTimer = undefined;
  }

  /** Stops watching, cancels any build, and stops every generation gracefully. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#clearRestartTimer();
    this.#liveness?.stop();
    this.#build?.abort(CANCEL_STOP);
    await this.#loop?.catch(() => undefined);
    // Also after a crash: descendants the leader left behind still go.
    const all = new Set([...this.#generationsAlive, ...(this.#current ? [this.#current] : [])]);
    await Promise.all([...all].map((g) => stopGeneration(this.plan, g)));
    await Promise.all(this.#draining);
    await this.#handoff.close();
  }

  /** Second Ctrl-C: SIGKILL every process group at once. */
  killNow(): void {
    this.#stopped = true;
    this.#build?.abort(CANCEL_STOP);
    for (const generation of this.#generationsAlive) killNow(generation.child);
    if (this.#current) killNow(this.#current.child);
    this.#handoff.destroy();
  }
}
