import { availableParallelism } from 'node:os';
import { isDeepStrictEqual } from 'node:util';
import type { ServicePlan } from '../config/plan.js';
import type { DetectTiming, SourceChange } from '../detect/changes.js';
import { internalError, type EventBus } from '../events.js';
import { createHandoff, proxyWorkers } from '../swap/create.js';
import type { Generation } from '../swap/generation.js';
import type { Handoff } from '../swap/handoff.js';
import { trafficPolicy, type TrafficPolicy } from '../swap/traffic-policy.js';
import { ServicePlugins } from '../plugin-support/service-plugins.js';
import { Builds, mergeSources, reuse, type ArtifactSource, type NewArtifacts } from './artifact-source.js';
import { CANCEL_STOP } from './build-step.js';
import { CanaryRelease, type RolloutAction } from './canary-release.js';
import { CommandQueue } from './command-queue.js';
import type { ServiceCommand } from './commands.js';
import { Generations } from './generations.js';
import { Recovery } from './recovery.js';
import { ReloadCycle } from './reload-cycle.js';
import { ReloadScheduler } from './reload-scheduler.js';
import { Serving } from './serving.js';
import { serviceStatus, type ServiceStatus } from './service-status.js';
import type { ServiceOptions } from './service-options.js';

export type { ServiceStatus };
export type { ServiceOptions };

/**
 * One service's pipeline, wired from its seams (docs/architecture.md): the reload
 * scheduler decides when a reload runs; an artifact source (a build, or a reuse) gives it
 * something to run; the reload cycle starts it and gates it on its health; the serving
 * state moves traffic over the handoff; recovery decides what follows a failure.
 *
 * Every action on the service is a command handled in order by its one queue (see
 * `ServiceCommand`): nothing else changes which generation serves, what came before it,
 * or the plan it runs by. Only stop and killNow act at once: they close the queue.
 *
 * @example
 *   const service = new ServiceRunner(plan, bus, {});
 *   await service.start();
 *   service.reload(['main.go']);
 *   await service.stop();
 */
export class ServiceRunner {
  #plan: ServicePlan;
  #started = false;
  #opened: Promise<void> | undefined;
  readonly #handoff: Handoff;
  readonly #policy: TrafficPolicy;
  /** Where new artifacts come from: builds, or releases; the runner never asks which. */
  readonly #source: NewArtifacts;
  readonly #generations: Generations;
  readonly #scheduler: ReloadScheduler<ArtifactSource>;
  readonly #recovery: Recovery;
  readonly #release: CanaryRelease;
  /** Go plugins airlock builds for this service (plugins.go), and its plugin directory watched for the app (plugins.dir). */
  readonly #plugins: ServicePlugins;
  readonly #serving: Serving;
  readonly #cycle: ReloadCycle;
  readonly #queue: CommandQueue<ServiceCommand, string | undefined>;
  readonly #stopping = new AbortController();
  /** Stops the source's own watching (a release channel's poll), when it has one. */
  #unwatch: () => void = () => undefined;
  #markReady: () => void = () => undefined;
  /** Resolves when the service's first generation is ready (dependsOn waits on it). */
  readonly firstReady = new Promise<void>((resolve) => (this.#markReady = resolve));

  constructor(
    plan: ServicePlan,
    private readonly bus: EventBus,
    private readonly options: ServiceOptions,
  ) {
    this.#plan = plan;
    const service = plan.name;
    const current = () => this.#serving.current;
    const stopped = () => this.#stopping.signal.aborted;
    this.#queue = new CommandQueue((command) => this.#handle(command), undefined);
    const send = (command: ServiceCommand) => void this.#queue.send(command).catch((error: unknown) => this.#internal(command.kind, error));
    this.#handoff = createHandoff(plan, {
      probeFor: (address, connectCounts, env) => this.#cycle.probeFor(address, connectCounts, env),
      onProxyError: (message) => bus.emit({ type: 'proxy.error', service, message }),
      onNotice: (message) => bus.emit({ type: 'notice', service, message }),
      debugHeaders: () => this.#plan.rollout.debugHeaders,
      proxyExtensions: options.proxy,
      proxyWorkers: proxyWorkers(plan, { dev: options.dev ?? true, cores: availableParallelism() }),
    });
    this.#source = (options.source ?? ((p, b) => new Builds(p, b, options.slots)))(() => this.#plan, bus);
    this.#plugins = new ServicePlugins(() => this.#plan, bus, options.slots, () => [current(), this.#release.canary].filter((g) => g !== undefined));
    this.#generations = new Generations(() => this.#plan, bus, (generation) => send({ kind: 'exited', generation }), options.spawnHooks);
    this.#policy = trafficPolicy(this.#handoff, {
      stop: (generation) => this.#generations.stop(generation),
      drainMs: () => this.#plan.stop.drainMs,
      onDrained: (generation, ms) => bus.emit({ type: 'generation.drained', service, generation: generation.n, ms }),
      onError: (error) => this.#internal('draining', error),
    });
    const pieces = { bus, plan: () => this.#plan, handoff: this.#handoff, policy: this.#policy };
    // Forcing a side is a developer's tool: on by default only where files are watched (airlock dev).
    const forceDefault = (options.dev ?? true) ? 'header' : 'off';
    this.#release = new CanaryRelease({ ...pieces, forceDefault, promoted: (canary, probe, stable) => send({ kind: 'promoted', canary, probe, stable }) });
    this.#scheduler = new ReloadScheduler<ArtifactSource>({
      run: (reload) => this.#cycle.run(reload),
      supersede: () => this.#cycle.supersede(),
      merge: mergeSources,
      failed: (error) => this.#internal('reload', error),
    });
    this.#recovery = new Recovery({ bus, plan: () => this.#plan, scheduler: this.#scheduler, handoff: this.#handoff, source: this.#source, current, stopped });
    const shared = { ...pieces, release: this.#release, recovery: this.#recovery };
    this.#serving = new Serving({ ...shared, stopped, nextN: () => this.#cycle.n + 1, unhealthy: (generation, detail) => send({ kind: 'unhealthy', generation, detail }) });
    this.#cycle = new ReloadCycle({
      ...shared,
      traceContext: options.traceContext ?? false,
      generations: this.#generations,
      source: this.#source,
      scheduler: this.#scheduler,
      plugins: this.#plugins,
      serving: this.#serving,
      stopping: this.#stopping.signal,
      settle: (command) => this.#queue.send(command),
      markReady: () => this.#markReady(),
      generationsFrom: options.generationsFrom,
    });
  }

  /** What the service runs by; each generation starts from the plan in force then. */
  get plan(): ServicePlan {
    return this.#plan;
  }

  get current(): Generation | undefined {
    return this.#serving.current;
  }

  /** The newest generation number given out. */
  get generation(): number {
    return this.#cycle.n;
  }

  status(): ServiceStatus {
    const state = this.#stopping.signal.aborted ? 'stopped' : this.#cycle.building ? 'building' : !this.#started ? 'waiting' : this.#serving.somethingRuns() ? 'ready' : this.#scheduler.busy ? 'starting' : 'down';
    const others = this.#generations.others(this.current);
    const canary = this.#release.canary;
    const shown = { starting: others.starting.filter((g) => g !== canary), draining: others.draining };
    const rollout = this.#release.status();
    return { ...serviceStatus(this.plan, state, this.current, shown), ...(rollout ? { rollout } : {}) };
  }

  /**
   * Opens the service's address (once): a reshape opens a new address before the old one
   * closes, so a port held by another program is refused while the old version serves.
   */
  open(): Promise<void> {
    this.#opened ??= this.#handoff.open();
    return this.#opened;
  }

  /** Opens the service's address and starts its plugin support, then its first reload. */
  async start(): Promise<void> {
    if (this.#stopping.signal.aborted) return;
    await this.open();
    await this.#plugins.start(this.options.dev ?? true, this.options.controlSocket);
    await this.#queue.send({ kind: 'start' });
    if (!this.#stopping.signal.aborted) this.#unwatch = this.#source.watch?.((reason) => this.reload([reason])) ?? this.#unwatch;
  }

  /** Rebuild and swap now (a change, SIGHUP, `airlock reload`); cancels a build in progress. Before start, nothing to do. */
  reload(reasons: readonly string[], detectStartedAt?: number, timing?: DetectTiming): void {
    void this.#send({ kind: 'reload', reasons, detectStartedAt, timing });
  }

  /**
   * Sources changed (the change detector): a build and a swap, or with only
   * watch.restartOnly files changed, a new generation of the current build.
   */
  changed(change: SourceChange): void {
    void this.#send({ kind: 'reload', reasons: change.paths, detectStartedAt: change.firstAt, timing: change.timing, changed: change.paths, restartOnly: change.restartOnly });
  }

  /** An env file, app config or the run settings changed: a generation of the same build starts with them. */
  restartSameBuild(reason: string): void {
    void this.#send({ kind: 'restart', reason });
  }

  /** An edit of airlock.yaml changed this service (same address and handoff); whether a generation starts now is the caller's decision. */
  async update(plan: ServicePlan): Promise<void> {
    await this.#send({ kind: 'update', plan });
  }

  /** `airlock rollout promote|abort|pause|resume`: an error text when no rollout is in progress. */
  rollout(action: RolloutAction): Promise<string | undefined> {
    return this.#send({ kind: 'rollout', action });
  }

  /** deliver: signal — tells the generation that takes traffic to re-read its config snapshot. */
  signalCurrent(signal: NodeJS.Signals): void {
    void this.#send({ kind: 'signal', signal });
  }

  /** Sends a command; a failure handling it is reported, never thrown at the caller. */
  #send(command: ServiceCommand): Promise<string | undefined> {
    return this.#queue.send(command).catch((error: unknown) => {
      this.#internal(command.kind, error);
      return undefined;
    });
  }

  /** The one place the service's state changes: each command, in the order it came. */
  #handle(command: ServiceCommand): string | undefined | Promise<undefined> {
    switch (command.kind) {
      case 'start':
        return this.#begin();
      case 'update':
        return this.#update(command.plan);
      case 'rollout':
        return this.#release.act(command.action);
      case 'reload':
        // A restart-only change reuses the current build; coalesced with one that needs a build, the build wins (mergeSources).
        if (this.#started) this.#scheduler.request(command.reasons, command.restartOnly ? reuse(this.#source) : this.#source, command.detectStartedAt, command.timing, command.changed);
        break;
      case 'restart':
        if (this.#started) this.#scheduler.request([command.reason], reuse(this.#source));
        break;
      default:
        this.#serving.handle(command);
    }
    return undefined;
  }

  #begin(): undefined {
    this.#started = true;
    if (this.plan.listen === undefined) {
      const message = 'no listen address: each reload stops the old process before the new one starts, so a server is down for the gap; for zero downtime set listen (--listen 8080, or listen: in airlock.yaml) and serve on $PORT';
      this.bus.emit({ type: 'notice', service: this.plan.name, message });
    }
    this.#scheduler.request(['start'], this.#source);
    return undefined;
  }

  async #update(plan: ServicePlan): Promise<undefined> {
    const plugins = !isDeepStrictEqual(this.#plan.plugins, plan.plugins);
    this.#plan = plan;
    // Watch what the new settings name before a generation is told about it.
    if (plugins && this.#started) await this.#plugins.restart(this.options.dev ?? true, this.options.controlSocket);
    return undefined;
  }

  /** A failure nothing expected, in this service only: reported once with its stack; airlock and the other services go on. */
  #internal(what: string, error: unknown): void {
    this.bus.emit(internalError(this.plan.name, what, error));
  }

  /** Stops watching, cancels any build or start, and stops every generation gracefully. */
  async stop(): Promise<void> {
    this.#stopping.abort();
    this.#queue.close();
    this.#unwatch();
    this.#serving.stop();
    this.#release.stop();
    await this.#plugins.stop();
    this.#cycle.abortBuild(CANCEL_STOP);
    await this.#scheduler.stop();
    // Clients are let go before the app is: nothing is sent to a stopped generation.
    await this.#handoff.quiesce?.(this.#plan.stop.drainMs);
    // Also after a crash: descendants the leader left behind still go.
    await this.#generations.stopAll(this.current);
    await this.#policy.drained();
    await this.#handoff.close();
  }

  /** Second Ctrl-C: SIGKILL every process group at once. */
  killNow(): void {
    this.#stopping.abort();
    this.#queue.close();
    this.#unwatch();
    this.#cycle.abortBuild(CANCEL_STOP);
    this.#generations.killAll(this.current);
    this.#handoff.destroy();
  }
}
