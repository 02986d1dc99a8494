import { stat } from 'node:fs/promises';
import { dirname, relative } from 'node:path';
import { ArtifactStore } from '../build/artifacts.js';
import { runBuild } from '../build/runner.js';
import type { ServicePlan } from '../config/plan.js';
import { fullCode } from '../errors.js';
import type { EventBus, Phase } from '../events.js';
import { Backoff } from '../supervise/backoff.js';
import { describeEnd, isSuccess } from '../supervise/process-end.js';
import { killNow } from '../supervise/stop.js';
import { generationEnv, startGeneration, type Generation } from '../swap/generation.js';
import { restartSwap, stopGeneration } from '../swap/restart.js';
import { ContentTracker, expandDirectories } from '../watch/content.js';
import { Debouncer, type Clock, realClock } from '../watch/debounce.js';
import { createFilter, type PathFilter } from '../watch/filter.js';
import { watchTree, type WatchEvent, type WatchHandle } from '../watch/watcher.js';

export interface ServiceOptions {
  /** Watch files and reload on change (`airlock dev`); false for `airlock run`. */
  readonly watch: boolean;
  readonly clock?: Clock;
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
  #current: Generation | undefined;
  #previous: Generation | undefined;
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
    this.#debouncer = new Debouncer(plan.watch.debounceMs, (paths, firstAt) => void this.#onQuiet(paths, firstAt), options.clock ?? realClock);
    this.#artifacts = plan.artifact ? new ArtifactStore(plan.artifact) : undefined;
  }

  get current(): Generation | undefined {
    return this.#current;
  }

  async start(): Promise<void> {
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

  #request(reasons: readonly string[], detectStartedAt: number, rebuild: boolean): void {
    if (this.#stopped) return;
    const pending = (this.#pending ??= { reasons: new Set(), detectStartedAt, rebuild });
    pending.rebuild ||= rebuild;
    for (const reason of reasons) pending.reasons.add(reason);
    this.#build?.abort();
    this.#loop ??= this.#drain().finally(() => (this.#loop = undefined));
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
    const changed = await this.#content.changed(paths);
    const rel = (list: readonly string[]) => list.map((path) => relative(this.plan.watch.root, path));
    if (changed.length === 0) {
      this.bus.emit({ type: 'change.unchanged', service: this.plan.name, paths: rel([...paths]) });
      return;
    }
    this.bus.emit({ type: 'change.detected', service: this.plan.name, paths: rel(changed) });
    this.reload(rel(changed), firstAt);
  }

  async #drain(): Promise<void> {
    while (this.#pending !== undefined && !this.#stopped) {
      const pending = this.#pending;
      this.#pending = undefined;
      await this.#cycle(pending);
    }
  }

  async #cycle(pending: PendingReload): Promise<void> {
    const n = ++this.#generations;
    const name = this.plan.name;
    const phases: Partial<Record<Phase, number>> = { detect: performance.now() - pending.detectStartedAt };
    const began = pending.detectStartedAt;
    let artifact = this.#current?.artifact;
    if (this.plan.build && pending.rebuild) {
      const buildStarted = performance.now();
      const built = await this.#runBuild(n);
      if (!built) return;
      phases.build = performance.now() - buildStarted;
      artifact = this.#artifacts?.commit(n, [this.#current?.n ?? -1, this.#previous?.n ?? -1]);
    }
    if (this.#stopped) return;
    this.#clearRestartTimer();
    // A new version gets a fresh backoff; a crash-restarted one keeps counting.
    if (pending.rebuild) this.#backoff.reset();
    const old = this.#current;
    const result = await restartSwap(this.plan, old, () => this.#spawn(n, artifact));
    Object.assign(phases, result.timings);
    if (old) this.#previous = old;
    if (result.outcome !== 'ready') {
      await this.#failStart(result.next, result.outcome);
      return;
    }
    this.bus.emit({
      type: 'reload.ready',
      service: name,
      generation: n,
      pid: result.next.child.pid,
      totalMs: performance.now() - began,
      phases,
      reason: [...pending.reasons],
    });
  }

  /** Returns true on success; reports failures; the running generation is untouched. */
  async #runBuild(n: number): Promise<boolean> {
    const build = this.plan.build;
    if (!build) return true;
    const controller = new AbortController();
    this.#build = controller;
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

  #spawn(n: number, artifact: string | undefined): Generation {
    const generation = startGeneration(this.plan, n, artifact, (stream, line) =>
      this.bus.emit({ type: 'process.output', service: this.plan.name, generation: n, stream, line }),
    );
    this.#current = generation;
    if (generation.child.pid > 0) {
      this.bus.emit({ type: 'process.started', service: this.plan.name, generation: n, pid: generation.child.pid });
    }
    void generation.child.ended.then(() => this.#onExit(generation));
    return generation;
  }

  async #failStart(generation: Generation, outcome: string): Promise<void> {
    const { n, child } = generation;
    if (outcome === 'timeout') await stopGeneration(this.plan, generation);
    else await child.ended;
    const code = outcome === 'timeout' ? 'START_TIMEOUT' : (await child.spawned) ? 'PROCESS_CRASHED' : 'START_FAILED';
    const message =
      outcome === 'timeout'
        ? `g${n} did not accept connections on ${this.plan.listen?.host}:${this.plan.listen?.port} within ${this.plan.startTimeoutMs} ms`
        : `g${n} ${child.end ? describeEnd(child.end) : 'ended'} before it was ready`;
    this.bus.emit({ type: 'reload.failed', service: this.plan.name, generation: n, code: fullCode(code), message, tail: child.tail() });
  }

  #onExit(generation: Generation): void {
    const end = generation.child.end;
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
    // A crash restarts the same artifact with backoff; a clean exit waits for the next change.
    if (isSuccess(end)) return;
    const delayMs = this.#backoff.next(performance.now() - generation.startedAt);
    this.bus.emit({ type: 'process.restarting', service: this.plan.name, generation: generation.n, delayMs });
    this.#restartTimer = setTimeout(() => {
      this.#restartTimer = undefined;
      // A reload under way (or done meanwhile) brings its own new generation.
      if (this.#current !== generation || this.#loop !== undefined) return;
      this.#request([`restart after ${describeEnd(end)}`], performance.now(), false);
    }, delayMs);
  }

  #clearRestartTimer(): void {
    if (this.#restartTimer !== undefined) clearTimeout(this.#restartTimer);
    this.#restartTimer = undefined;
  }

  /** Stops watching, cancels any build, and stops the running generation gracefully. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#debouncer.cancel();
    this.#clearRestartTimer();
    this.#build?.abort();
    await this.#watcher?.close();
    await this.#loop?.catch(() => undefined);
    // Also after a crash: descendants the leader left behind still go.
    if (this.#current) await stopGeneration(this.plan, this.#current);
  }

  /** Second Ctrl-C: SIGKILL every process group at once. */
  killNow(): void {
    this.#stopped = true;
    this.#build?.abort();
    if (this.#current) killNow(this.#current.child);
  }
}
