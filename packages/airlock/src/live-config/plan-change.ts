import { isDeepStrictEqual } from 'node:util';
import type { ServicePlan } from '../config/plan.js';

/**
 * What an edit of airlock.yaml asks of a running service, most disruptive first:
 * - replace: its public address or handoff changed, so its pipeline is rebuilt (the old
 *   one stops first: the new one needs the same address);
 * - rebuild: how it is built changed: build and swap, like a source change;
 * - restart: how it runs changed: a new generation of the same build, through the handoff;
 * - update: only how it is watched, stopped, ordered (dependsOn, restartWith) or rolled out changed: nothing restarts;
 * - same: nothing changed.
 */
export type PlanChange = 'replace' | 'rebuild' | 'restart' | 'update' | 'same';

/** What applying an edit of airlock.yaml did to each service it touched. */
export interface Applied {
  readonly added: readonly string[];
  readonly removed: readonly string[];
  readonly changed: readonly { readonly service: string; readonly change: Exclude<PlanChange, 'same'> }[];
}

const ORDER: readonly PlanChange[] = ['replace', 'rebuild', 'restart', 'update'];

/** Every field of a plan and what a change to it needs; a new field fails to compile until listed. */
const EFFECT: Readonly<Record<keyof ServicePlan, Exclude<PlanChange, 'same'>>> = {
  name: 'replace',
  handoff: 'replace',
  listen: 'replace',
  proxy: 'replace',
  preset: 'rebuild',
  go: 'rebuild',
  build: 'rebuild',
  artifact: 'rebuild',
  dir: 'restart',
  run: 'restart',
  appConfig: 'restart',
  health: 'restart',
  watch: 'update',
  dependsOn: 'update',
  restartWith: 'update',
  stop: 'update',
  // A rollout in progress keeps the settings it began with; the next one uses the new ones.
  rollout: 'update',
  // The app's plugin host is told where airlock watches when its generation starts.
  plugins: 'restart',
  // Builds or releases: the runner is given its source when it is made, so it is made anew.
  release: 'replace',
  // The stable debug address follows the plan (daemon/debuggers.ts); each generation is wrapped as it starts.
  debug: 'restart',
};

/**
 * Compares a service's running plan with the plan of its edited config.
 *
 * @example
 *   classifyChange(running, { ...running, build: { ...running.build, cmd: 'make' } }); // 'rebuild'
 */
export function classifyChange(running: ServicePlan, next: ServicePlan): PlanChange {
  const changed = (Object.keys(EFFECT) as (keyof ServicePlan)[]).filter((key) => !isDeepStrictEqual(running[key], next[key]));
  return ORDER.find((effect) => changed.some((key) => EFFECT[key] === effect)) ?? 'same';
}
