import type { ServicePlan } from '../config/plan.js';
import { startProcess, type Stream, type Supervised } from '../supervise/spawn.js';
import { stopProcess, type StopResult } from '../supervise/stop.js';
import { fillTemplate } from '../supervise/template.js';
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

/**
 * The config snapshot a generation reads (AIRLOCK_CONFIG_FILE). With deliver: restart
 * each generation reads its own copy, so one still draining never sees the snapshot its
 * successor was started for; with deliver: signal all share the one airlock replaces.
 */
export function generationConfigFile(plan: ServicePlan, n: number): string | undefined {
  const appConfig = plan.appConfig;
  if (!appConfig) return undefined;
  return appConfig.deliver === 'restart' ? appConfig.snapshot.replace(/\.json$/, `.g${n}.json`) : appConfig.snapshot;
}

/**
 * The environment of a generation (and its build): airlock's own, the env files as read
 * for this reload (`fileEnv`, so build, probes and process see one snapshot), run.env,
 * airlock's variables.
 */
export function generationEnv(plan: ServicePlan, n: number, fileEnv: Readonly<Record<string, string>>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) if (value !== undefined) env[key] = value;
  // Inherited socket-activation variables belong to airlock's own parent, not to its children.
  for (const key of ['LISTEN_FDS', 'LISTEN_FDNAMES', 'LISTEN_PID']) delete env[key];
  Object.assign(env, fileEnv, plan.run.env);
  env.AIRLOCK_SERVICE = plan.name;
  env.AIRLOCK_GENERATION = String(n);
  if (plan.listen) env.PORT = String(plan.listen.port);
  if (plan.appConfig) {
    env.AIRLOCK_CONFIG_FILE = generationConfigFile(plan, n) as string;
    env.AIRLOCK_CONFIG_SIGNAL = plan.appConfig.signal;
  }
  return env;
}

/** What one generation starts from: the plan, its number, the build it runs, the env files' snapshot. */
export interface GenerationStart {
  readonly plan: ServicePlan;
  readonly n: number;
  readonly artifact: string | undefined;
  readonly launch: Launch;
  readonly fileEnv: Readonly<Record<string, string>>;
}

export function startGeneration({ plan, n, artifact, launch, fileEnv }: GenerationStart, onLine: (stream: Stream, line: string) => void): Generation {
  const env = { ...generationEnv(plan, n, fileEnv), ...launch.env };
  const command = fillTemplate(plan.run.cmd, { artifact, port: env.PORT, service: plan.name, generation: n });
  const child = startProcess({ command, cwd: plan.dir, env, onLine, extraFds: launch.extraFds, listenPid: launch.listenPid });
  return { n, child, artifact, launch, startedAt: performance.now(), promotedAt: undefined, stopping: false };
}

/**
 * Stops a generation with the service's stop signal and grace period, then frees its
 * resources. Idempotent: a second stop (shutdown while the generation drains) must not
 * send the signal again, since a second SIGTERM ends a Node app's gentle drain at once.
 */
export function stopGeneration(plan: ServicePlan, generation: Generation): Promise<StopResult> {
  generation.stopping = true;
  generation.stopped ??= stopProcess(generation.child, { signal: plan.stop.signal, timeoutMs: plan.stop.timeoutMs }).then((result) => {
    generation.launch.release();
    return result;
  });
  return generation.stopped;
}
