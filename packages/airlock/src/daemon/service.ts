import { stat } from 'node:fs/promises';
import { dirname, relative } from 'node:path';
import { ArtifactStore } from '../build/artifacts.js';
import type { GoGraph } from '../build/go-graph.js';
import type { BuildSlots } from '../build/slots.js';
import { runBuild } from '../build/runner.js';
import type { ServicePlan } from '../config/plan.js';
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
import { generationEnv, startGeneration, stopGeneration, type Generation } from '../swap/generation.js';
import type { Handoff, Launch } from '../swap/handoff.js';
import { ContentTracker, expandDirectories } from '../watch/content.js';
import { Debouncer, type Clock, realClock } from '../watch/debounce.js';
import { createFilter, type PathFilter } from '../watch/filter.js';
import { watchTree, type WatchEvent, type WatchHandle } from '../watch/watcher.js';

export interface ServiceOptions {
  /** Watch files and reload on change (`airlock dev`); false for `airlock run`. */
  readonly watch: boolean;
  readonly clock?: Clock;
  /** Go preset: the module graph shared by the module's services (rebuild only the affected). */
  readonly goGraph?: GoGraph;
  /** Shared across services: how many builds may run at once. */
  readonly slots?: BuildSlots;
}

/**
 * @parcel/watcher reports the first event after a quiet spell at once and the rest of a
 * burst (a checkout, a formatter) 50 ms later: a debounce shorter than that would build
 * the first file alone. 0 stays 0: the user asked for no wait at all.
 */
const WATCHER_BATCH_MS = 60;
function quietPeriod(debounceMs: number): number {
  return debounceMs === 0 ? 0 : Math.max(debounceMs, WATCHER_BATCH_MS);
}

/** A file written again and again (a log caught by the globs) must not hold builds off forever. */
const MAX_SETTLE_MS = 3_000;

/** Milliseconds since the most recent write to any of the paths (Infinity if none exist). */
async function newestWriteAgo(paths: Iterable<string>): Promise<number> {
  let newest = -Infinity;
  for (const path of paths) {
    try {
      newest = Math.max(newest, (await stat(path)).mtimeMs);
    } catch {
      // deleted: nothing more will be written to it
    }
  }
  const ago = Date.now() - newest;
  // A timestamp from the future (copied with its times kept) says nothing about now.
  return ago < -1_000 ? Infinity : Math.max(0, ago);
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
  readonly #filter: PathFilter;
  readonly #content = new ContentTracker();
  readonly #debouncer: Debouncer<string>;
  readonly #artifacts: ArtifactStore | undefined;
  readonly #backoff = new Backoff();
  #watcher: WatchHandle | undefined;
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
  #pending: PendingReload | undefined;
  #build: AbortController | undefined;
  #loop: Promise<void> | undefined;
  #restartTimer: NodeJS.Timeout | undefined;
  #generations = 0;
  #stopped = false;

  constructor(
    readonly plan: ServicePlan,
    private readonly bus: EventBus,
    private readonly options: ServiceOptions,
  ) {
    this.#filter = createFilter(plan.watch);
    this.#debouncer = new Debouncer(quietPeriod(plan.watch.debounceMs), (paths, firstAt) => void this.#onQuiet(paths, firstAt), options.clock ?? realClock);
    this.#artifacts = plan.artifact ? new ArtifactStore(plan.artifact) : undefined;
    this.#handoff = createHandoff(plan, {
      probeFor: (address, connectCounts) => this.#probeFor(address, connectCounts),
      onProxyError: (message) => this.bus.emit({ type: 'proxy.error', service: plan.name, message }),
    });
  }

  #probeFor(address: ProbeAddress | undefined, connectCounts: boolean): Probe | undefined {
    if (this.plan.health.probe?.kind === 'tcp' && !connectCounts) return undefined;
    const n = this.#generations;
    return buildProbe({
      health: this.plan.health,
      address,
      cwd: this.plan.dir,
      env: generationEnv(this.plan, n),
      logProbe: this.#logProbes.get(n)?.probe ?? (async () => this.#logProbes.get(n)?.probe() ?? { ok: false, detail: 'no output yet' }),
    });
  }

  #markReady: () => void = () => undefined;
  /** Resolves when the service's first generation is ready (dependsOn waits on it). */
  readonly firstReady = new Promise<void>((resolve) => (this.#markReady = resolve));

  get current(): Generation | undefined {
    return this.#current;
  }

  async start(): Promise<void> {
    if (this.#stopped) return;
    await this.#handoff.open();
    if (this.options.watch) {
      const started = performance.now();
      this.#watcher = await watchTree(
        this.plan.watch.root,
        (events) => this.#onEvents(events),
        (error) => this.bus.emit({ type: 'error', service: this.plan.name, code: fullCode(error.code), message: error.message }),
      );
      this.bus.emit({ type: 'watch.started', service: this.plan.name, root: this.plan.watch.root, ms: performance.now() - started });
      void this.#content.prime(this.plan.watch.root, this.#filter);
    }
    this.reload(['start']);
  }

  /** Rebuild and swap now (SIGHUP, `airlock reload`); cancels a build in progress. */
  reload(reasons: readonly string[], detectStartedAt = performance.now()): void {
    this.#request(reasons, detectStartedAt, true);
  }

  #request(reasons: readonly string[], detectStartedAt: number, rebuild: boolean, artifact?: string): void {
    if (this.#stopped) return;
    const pending = (this.#pending ??= { reasons: new Set(), detectStartedAt, rebuild, artifact });
    pending.rebuild ||= rebuild;
    if (rebuild) pending.artifact = undefined;
    for (const reason of reasons) pending.reasons.add(reason);
    this.#build?.abort();
    this.#loop ??= this.#runPending().finally(() => (this.#loop = undefined));
  }

  #onEvents(events: readonly WatchEvent[]): void {
    const paths = events.map((event) => event.path);
    void this.#withNewDirectories(events).then((found) => {
      const inputs = [...paths, ...found].filter((path) => this.#filter.matches(path));
      if (inputs.length > 0 && !this.#stopped) this.#debouncer.add(inputs);
    });
  }

  /** Files inside directories that were just created, which get no event of their own. */
  async #withNewDirectories(events: readonly WatchEvent[]): Promise<string[]> {
    const created: string[] = [];
    for (const event of events) {
      if (event.type !== 'create') continue;
      try {
        if ((await stat(event.path)).isDirectory()) created.push(event.path);
      } catch {
        // already gone
      }
    }
    if (created.length === 0) return [];
    const { files, nestedDirs } = await expandDirectories(created, this.#filter);
    // Subscriptions are recursive: one per top-most nested directory is enough.
    for (const dir of nestedDirs) {
      if (created.some((parent) => dirname(dir) === parent)) await this.#watcher?.watchAlso(dir);
    }
    return files;
  }

  async #onQuiet(paths: Set<string>, firstAt: number): Promise<void> {
    // The watcher delivers a long burst in batches up to 500 ms apart; quiet means the
    // files themselves stopped changing, so wait while one was written within the window.
    if (performance.now() - firstAt < MAX_SETTLE_MS && (await newestWriteAgo(paths)) < this.plan.watch.debounceMs) {
      this.#debouncer.add(paths, firstAt);
      return;
    }
    let changed = await this.#content.changed(paths);
    const rel = (list: readonly string[]) => list.map((path) => relative(this.plan.watch.root, path));
    if (changed.length === 0) {
      this.bus.emit({ type: 'change.unchanged', service: this.plan.name, paths: rel([...paths]) });
      return;
    }
    const graph = this.options.goGraph;
    if (graph) {
      const reaching = (await graph.affected(changed)).services.get(this.plan.name);
      if (reaching === undefined) {
        this.bus.emit({ type: 'change.unaffected', service: this.plan.name, paths: rel(changed) });
        return;
      }
      changed = [...reaching];
    }
    this.bus.emit({ type: 'change.detected', service: this.plan.name, paths: rel(changed) });
    this.reload(rel(changed), firstAt);
  }

  async #runPending(): Promise<void> {
    while (this.#pending !== undefined && !this.#stopped) {
      const pending = this.#pending;
      this.#pending = undefined;
      await this.#cycle(pending);
    }
  }

  async #cycle(pending: PendingReload): Promise<void> {
    const n = ++this.#generations;
    const phases: Partial<Record<Phase, number>> = { detect: performance.now() - pending.detectStartedAt };
    let artifact = pending.artifact ?? this.#current?.artifact ?? this.#lastArtifact;
    if (this.plan.build && pending.rebuild) {
      const buildStarted = performance.now();
      if (!(await this.#runBuild(n))) return;
      phases.build = performance.now() - buildStarted;
      const keep = [this.#current?.artifact, this.#previousArtifact].filter((path): path is string => path !== undefined);
      artifact = this.#artifacts?.commit(n, keep);
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
    await this.#handoff.retire(old.n);
    await stopGeneration(this.plan, old);
    this.#retired(old);
    this.bus.emit({ type: 'generation.drained', service: this.plan.name, generation: old.n, ms: performance.now() - started });
  }

  #retired(generation: Generation): void {
    this.#logProbes.delete(generation.n);
  }

  #watchLiveness(generation: Generation, probe: Probe | undefined): void {
    const monitor = new LivenessMonitor(probe, generation.child, this.plan.health);
    this.#liveness = monitor;
    monitor.start((detail) => {
      if (this.#current !== generation || this.#stopped) return;
      this.bus.emit({ type: 'health.failed', service: this.plan.name, generation: generation.n, detail });
      this.#replaceFailed(generation, detail);
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
    const delayMs = this.#backoff.next(performance.now() - failed.startedAt);
    this.bus.emit({ type: 'process.restarting', service: this.plan.name, generation: failed.n, delayMs });
    this.#restartTimer = setTimeout(() => {
      this.#restartTimer = undefined;
      // A reload under way (or done meanwhile) brings its own new generation.
      if (this.#current !== failed || this.#loop !== undefined) return;
      this.#request([`restart after g${failed.n} ${why}`], performance.now(), false);
    }, delayMs);
  }

  /** Returns true on success; reports failures; the running generation is untouched. */
  async #runBuild(n: number): Promise<boolean> {
    const build = this.plan.build;
    if (!build) return true;
    const controller = new AbortController();
    this.#build = controller;
    const release = await (this.options.slots?.acquire(controller.signal) ?? (() => undefined));
    if (release === undefined) {
      this.#build = undefined;
      this.bus.emit({ type: 'build.cancelled', service: this.plan.name, generation: n });
      return false;
    }
    try {
      return await this.#buildWithSlot(n, build, controller);
    } finally {
      release();
    }
  }

  async #buildWithSlot(n: number, build: NonNullable<ServicePlan['build']>, controller: AbortController): Promise<boolean> {
    const cmd = build.cmd.replaceAll('{artifact}', this.#artifacts?.buildPath ?? '').replaceAll('{service}', this.plan.name);
    this.bus.emit({ type: 'build.started', service: this.plan.name, generation: n, cmd });
    const outcome = await runBuild({
      cmd,
      cwd: build.cwd,
      env: generationEnv(this.plan, n),
      timeoutMs: build.timeoutMs,
      signal: controller.signal,
      onLine: (stream, line) => this.bus.emit({ type: 'build.output', service: this.plan.name, generation: n, stream, line }),
    });
    this.#build = undefined;
    const fail = (code: 'BUILD_FAILED' | 'BUILD_TIMEOUT', message: string, locations: readonly string[]) =>
      this.bus.emit({ type: 'build.failed', service: this.plan.name, generation: n, code: fullCode(code), message, locations });
    switch (outcome.kind) {
      case 'ok':
        return true;
      case 'cancelled':
        this.bus.emit({ type: 'build.cancelled', service: this.plan.name, generation: n });
        return false;
      case 'timeout':
        fail('BUILD_TIMEOUT', `build did not finish within ${build.timeoutMs} ms and was killed`, []);
        return false;
      case 'failed': {
        const where = outcome.locations.length > 0 ? ` at ${outcome.locations.join(', ')}` : '';
        const keeps = this.#current ? `; g${this.#current.n} (pid ${this.#current.child.pid}) keeps running` : '';
        fail('BUILD_FAILED', `build ${describeEnd(outcome.end)}${where}${keeps}`, outcome.locations);
        return false;
      }
    }
  }

  #spawn(n: number, artifact: string | undefined, launch: Launch): Generation {
    const log = this.plan.health.probe?.kind === 'log' ? new LogProbe(this.plan.health.probe.pattern) : undefined;
    if (log) this.#logProbes.set(n, log);
    const generation = startGeneration(this.plan, n, artifact, launch, (stream, line) => {
      log?.see(line);
      this.bus.emit({ type: 'process.output', service: this.plan.name, generation: n, stream, line });
    });
    if (generation.child.pid > 0) {
      this.bus.emit({ type: 'process.started', service: this.plan.name, generation: n, pid: generation.child.pid });
    }
    this.#generationsAlive.add(generation);
    void generation.child.ended.then(() => this.#onExit(generation));
    return generation;
  }

  async #failStart(generation: Generation, reason: string, detail: string): Promise<void> {
    const { n, child } = generation;
    await stopGeneration(this.plan, generation);
    this.#retired(generation);
    const code =
      reason === 'timeout'
        ? generation.launch && this.plan.health.probe
          ? 'HEALTH_FAILED'
          : 'START_TIMEOUT'
        : reason === 'memory'
          ? 'MEMORY_GROWTH'
          : (await child.spawned)
            ? 'PROCESS_CRASHED'
            : 'START_FAILED';
    const keeps = this.#current && this.#current.child.end === undefined ? `; g${this.#current.n} (pid ${this.#current.child.pid}) keeps serving` : '';
    this.bus.emit({ type: 'reload.failed', service: this.plan.name, generation: n, code: fullCode(code), message: `g${n}: ${detail}${keeps}`, tail: child.tail() });
    // With restart the old one is gone already: keep trying with backoff, as after a crash.
    if (!this.#current || this.#current.child.end !== undefined) this.#scheduleRetry(generation, detail);
  }

  #scheduleRetry(generation: Generation, why: string): void {
    if (this.#stopped) return;
    const delayMs = this.#backoff.next(performance.now() - generation.startedAt);
    this.bus.emit({ type: 'process.restarting', service: this.plan.name, generation: generation.n, delayMs });
    this.#restartTimer = setTimeout(() => {
      this.#restartTimer = undefined;
      if (this.#loop !== undefined || (this.#current && this.#current.child.end === undefined)) return;
      this.#request([`retry after g${generation.n}: ${why}`], performance.now(), false, generation.artifact);
    }, delayMs);
  }

  #onExit(generation: Generation): void {
    const end = generation.child.end;
    this.#generationsAlive.delete(generation);
    if (end === undefined) return;
    this.bus.emit({
      type: 'process.exited',
      service: this.plan.name,
      generation: generation.n,
      pid: generation.child.pid,
      end,
      expected: generation.stopping,
      forced: false,
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
    this.#debouncer.cancel();
    this.#clearRestartTimer();
    this.#liveness?.stop();
    this.#build?.abort();
    await this.#watcher?.close();
    await this.#loop?.catch(() => undefined);
    // Also after a crash: descendants the leader left behind still go.
    await Promise.all([...this.#generationsAlive, ...(this.#current ? [this.#current] : [])].map((g) => stopGeneration(this.plan, g)));
    await Promise.all(this.#draining);
    await this.#handoff.close();
  }

  /** Second Ctrl-C: SIGKILL every process group at once. */
  killNow(): void {
    this.#stopped = true;
    this.#build?.abort();
    for (const generation of this.#generationsAlive) killNow(generation.child);
    if (this.#current) killNow(this.#current.child);
    this.#handoff.destroy();
  }
}
