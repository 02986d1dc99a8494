import { copyFileSync, rmSync } from 'node:fs';
import type { ServicePlan } from '../config/plan.js';
import { generationConfigFile } from '../config/environment.js';
import { internalError, type EventBus } from '../events.js';
import { LogProbe } from '../health/log.js';
import type { ProbeResult } from '../health/probe.js';
import { killNow } from '../supervise/stop.js';
import { startGeneration, stopGeneration, type Generation, type SpawnHook } from '../swap/generation.js';
import type { Launch } from '../swap/handoff.js';

/**
 * The processes of one service: starting a generation (its output as events, its log
 * probe, its own copy of the app config snapshot), knowing which are alive, and stopping
 * them. Every end is reported (process.exited); `onExit` then hears it, whoever ended it.
 *
 * @example
 *   const generations = new Generations(() => plan, bus, (g) => runner.exited(g));
 *   const g = generations.start(4, 'bin/api.g4', launch, fileEnv, traceparent);
 *   await generations.stop(g);
 */
export class Generations {
  readonly #alive = new Set<Generation>();
  readonly #logProbes = new Map<number, LogProbe>();
  /** Aborted when the service stops: a generation paused in a debugger is no longer waited for. */
  readonly #shutdown = new AbortController();

  constructor(
    private readonly plan: () => ServicePlan,
    private readonly bus: EventBus,
    private readonly onExit: (generation: Generation) => void,
    /** Adjust each generation's spawn (a debugger, an inspector): ServiceOptions.spawnHooks. */
    private readonly spawnHooks: readonly SpawnHook[] = [],
  ) {}

  /** Generation n's log probe result (proxy modes build the probe before the process exists). */
  async logProbe(n: number): Promise<ProbeResult> {
    return (await this.#logProbes.get(n)?.probe()) ?? { ok: false, detail: 'no output yet' };
  }

  /** deliver: restart — generation n gets its own copy of the snapshot validated for it. */
  copyConfig(n: number): void {
    const plan = this.plan();
    const own = generationConfigFile(plan, n);
    const snapshot = plan.appConfig?.snapshot;
    if (own === undefined || snapshot === undefined || own === snapshot) return;
    try {
      copyFileSync(snapshot, own);
    } catch {
      // no valid snapshot yet: the service waits for one before it starts
    }
  }

  start(n: number, artifact: string | undefined, launch: Launch, fileEnv: Readonly<Record<string, string>>, traceparent: string | undefined, previous?: Generation): Generation {
    const plan = this.plan();
    const log = plan.health.probe?.kind === 'log' ? new LogProbe(plan.health.probe.pattern) : undefined;
    if (log) this.#logProbes.set(n, log);
    const traced = traceparent ? { ...launch, env: { ...launch.env, TRACEPARENT: traceparent } } : launch;
    const generation = startGeneration({ plan, n, artifact, launch: traced, fileEnv, previous, hooks: this.spawnHooks }, (stream, line) => {
      log?.see(line);
      this.bus.emit({ type: 'process.output', service: plan.name, generation: n, stream, line });
    });
    if (generation.child.pid > 0) this.bus.emit({ type: 'process.started', service: plan.name, generation: n, pid: generation.child.pid });
    this.#alive.add(generation);
    generation.child.ended
      .then(() => {
        this.#alive.delete(generation);
        // Whatever ended it, nothing reads its config copy any more.
        this.#removeConfigCopy(n);
        this.#reportExit(generation);
        this.onExit(generation);
      })
      .catch((error: unknown) => this.bus.emit(internalError(plan.name, 'handling an exit', error)));
    return generation;
  }

  #reportExit(generation: Generation): void {
    const end = generation.child.end;
    if (end === undefined) return;
    const plan = this.plan();
    // Stopped, yet ended by SIGKILL: the grace period ran out (stop.ts escalates to it).
    const forced = generation.stopping && end.kind === 'signal' && end.signal === 'SIGKILL' && plan.stop.signal !== 'SIGKILL';
    this.bus.emit({ type: 'process.exited', service: plan.name, generation: generation.n, pid: generation.child.pid, end, expected: generation.stopping, forced });
  }

  /** Stops a generation (stop signal, grace, SIGKILL of its group) and frees what it held. */
  async stop(generation: Generation): Promise<void> {
    await stopGeneration(this.plan(), generation, this.#shutdown.signal);
    this.#logProbes.delete(generation.n);
    this.#removeConfigCopy(generation.n);
  }

  #removeConfigCopy(n: number): void {
    const plan = this.plan();
    const own = generationConfigFile(plan, n);
    if (own !== undefined && own !== plan.appConfig?.snapshot) rmSync(own, { force: true });
  }

  /** Alive generations other than `current`: starting (not yet stopping) and draining. */
  others(current: Generation | undefined): { starting: Generation[]; draining: Generation[] } {
    const others = [...this.#alive].filter((g) => g !== current);
    return { starting: others.filter((g) => !g.stopping), draining: others.filter((g) => g.stopping) };
  }

  /** Stops every generation still alive, and `current` (whose descendants may outlive it). */
  async stopAll(current: Generation | undefined): Promise<void> {
    this.#shutdown.abort();
    const all = new Set([...this.#alive, ...(current ? [current] : [])]);
    await Promise.all([...all].map((g) => this.stop(g)));
  }

  /** Second Ctrl-C: SIGKILL every process group at once. */
  killAll(current: Generation | undefined): void {
    for (const generation of this.#alive) killNow(generation.child);
    if (current) killNow(current.child);
  }
}
