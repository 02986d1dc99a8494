import type { ServicePlan } from '../config/plan.js';
import { startProcess, type Stream, type Supervised } from '../supervise/spawn.js';
import { stopProcess, type StopResult } from '../supervise/stop.js';
import type { ProcessControl } from '../supervise/process-control.js';
import { fillTemplate, type RunValues } from '../supervise/template.js';
import { generationEnv } from '../config/environment.js';
import type { Launch } from './handoff.js';

/** One started process (and its group) of a service, with the artifact it runs. */
export interface Generation {
  readonly n: number;
  readonly child: Supervised;
  readonly artifact: string | undefined;
  readonly launch: Launch;
  readonly startedAt: number;
  /** When it started taking traffic; undefined while starting. */
  promotedAt: number | undefined;
  /** Set once airlock decided to stop it, so its exit is not taken for a crash. */
  stopping: boolean;
  /** The one stop under way: later callers wait for it instead of signalling again. */
  stopped?: Promise<StopResult>;
}

/** What one generation starts from: the plan, its number, the build it runs, the env files' snapshot. */
export interface GenerationStart {
  readonly plan: ServicePlan;
  readonly n: number;
  readonly artifact: string | undefined;
  readonly launch: Launch;
  readonly fileEnv: Readonly<Record<string, string>>;
  /** The generation serving when this one starts (the one it is to replace), if any. */
  readonly previous?: Generation;
  readonly hooks?: readonly SpawnHook[];
}

/** What is about to be spawned for a generation: its command line, environment and working directory. */
export interface SpawnPlan {
  readonly command: string;
  readonly env: Readonly<Record<string, string>>;
  readonly cwd: string;
  /** A hook that wraps the command (a debugger) says how the wrapped process is stopped and judged. */
  readonly control?: ProcessControl;
}

/**
 * Adjusts a generation's spawn before it happens (after watchexec's SetSpawnHook): given
 * what would be spawned and which generation it follows, returns what to spawn instead.
 * The one place a debugger wraps the command (and takes its private port), or an
 * inspector or a profiler adds its flags; hooks run in order, each on the last's result.
 *
 * @example
 *   const inspect: SpawnHook = (spawn) => ({ ...spawn, env: { ...spawn.env, NODE_OPTIONS: '--inspect=127.0.0.1:0' } });
 */
export type SpawnHook = (spawn: SpawnPlan, context: { readonly plan: ServicePlan; readonly n: number; readonly previous: Generation | undefined }) => SpawnPlan;

export function startGeneration({ plan, n, artifact, launch, fileEnv, previous, hooks = [] }: GenerationStart, onLine: (stream: Stream, line: string) => void): Generation {
  const env = { ...generationEnv(plan, n, fileEnv), ...launch.env };
  const values: RunValues = { artifact, port: env.PORT, service: plan.name, generation: n };
  let spawn: SpawnPlan = { command: fillTemplate(plan.run.cmd, values), env, cwd: plan.dir };
  for (const hook of hooks) spawn = hook(spawn, { plan, n, previous });
  const { command, cwd } = spawn;
  const child = startProcess({ command, cwd, env: spawn.env, onLine, extraFds: launch.extraFds, listenPid: launch.listenPid, trackEarly: true, control: spawn.control });
  return { n, child, artifact, launch, startedAt: performance.now(), promotedAt: undefined, stopping: false };
}

/**
 * Stops a generation with the service's stop signal and grace period, then frees its
 * resources. Idempotent: a second stop (shutdown while the generation drains) must not
 * send the signal again, since a second SIGTERM ends a Node app's gentle drain at once.
 * A generation paused in a debugger waits for the developer, until `holdEnds` aborts.
 */
export function stopGeneration(plan: ServicePlan, generation: Generation, holdEnds?: AbortSignal): Promise<StopResult> {
  generation.stopping = true;
  generation.stopped ??= stopProcess(generation.child, { signal: plan.stop.signal, timeoutMs: plan.stop.timeoutMs, holdEnds }).then((result) => {
    generation.launch.release();
    return result;
  });
  return generation.stopped;
}
