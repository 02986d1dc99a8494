import { join } from 'node:path';
import type { ServicePlan } from './plan.js';

/** Where a Go service's plugin builds go (its generations' AIRLOCK_PLUGINS_DIR); undefined without Go plugins. */
export function goPluginsDir(plan: ServicePlan): string | undefined {
  return plan.plugins?.go.length && plan.go ? join(plan.go.moduleDir, '.airlock', 'plugins', plan.name) : undefined;
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
  // Inherited socket-activation variables belong to airlock's own parent, not to its children;
  // so do the changed paths of an airlock that runs this one.
  for (const key of ['LISTEN_FDS', 'LISTEN_FDNAMES', 'LISTEN_PID', 'AIRLOCK_CHANGED_PATHS', 'AIRLOCK_CHANGED_COUNT']) delete env[key];
  Object.assign(env, fileEnv, plan.run.env);
  env.AIRLOCK_SERVICE = plan.name;
  env.AIRLOCK_GENERATION = String(n);
  if (plan.listen) env.PORT = String(plan.listen.port);
  const plugins = goPluginsDir(plan);
  if (plugins) env.AIRLOCK_PLUGINS_DIR = plugins;
  if (plan.appConfig) {
    env.AIRLOCK_CONFIG_FILE = generationConfigFile(plan, n) as string;
    env.AIRLOCK_CONFIG_SIGNAL = plan.appConfig.signal;
  }
  return env;
}

