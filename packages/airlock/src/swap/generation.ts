import type { ServicePlan } from '../config/plan.js';
import { readEnvFiles } from '../config/plan.js';
import { startProcess, type Stream, type Supervised } from '../supervise/spawn.js';

/** One started process (and its group) of a service, with the artifact it runs. */
export interface Generation {
  readonly n: number;
  readonly child: Supervised;
  readonly artifact: string | undefined;
  readonly startedAt: number;
  /** Set once airlock decided to stop it, so its exit is not taken for a crash. */
  stopping: boolean;
}

/** Replaces the template variables of DESIGN.md section 4 in a command. */
export function fillTemplate(cmd: string, values: { artifact?: string; port?: number; service: string; generation: number }): string {
  return cmd
    .replaceAll('{artifact}', values.artifact ?? '')
    .replaceAll('{port}', values.port === undefined ? '' : String(values.port))
    .replaceAll('{service}', values.service)
    .replaceAll('{generation}', String(values.generation));
}

/** The environment of a generation: airlock's own, env files read now, run.env, airlock's variables. */
export function generationEnv(plan: ServicePlan, n: number): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) if (value !== undefined) env[key] = value;
  Object.assign(env, readEnvFiles(plan.run.envFiles), plan.run.env);
  env.AIRLOCK_SERVICE = plan.name;
  env.AIRLOCK_GENERATION = String(n);
  if (plan.listen) env.PORT = String(plan.listen.port);
  return env;
}

export function startGeneration(
  plan: ServicePlan,
  n: number,
  artifact: string | undefined,
  onLine: (stream: Stream, line: string) => void,
): Generation {
  const command = fillTemplate(plan.run.cmd, { artifact, port: plan.listen?.port, service: plan.name, generation: n });
  const child = startProcess({ command, cwd: plan.dir, env: generationEnv(plan, n), onLine });
  return { n, child, artifact, startedAt: performance.now(), stopping: false };
}
