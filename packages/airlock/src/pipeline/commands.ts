import type { ServicePlan } from '../config/plan.js';
import type { DetectTiming } from '../detect/changes.js';
import type { Probe } from '../health/probe.js';
import type { Generation } from '../swap/generation.js';
import type { Launch } from '../swap/handoff.js';
import type { RolloutAction } from './canary-release.js';

/** A generation that passed its health gate, as the reload that started it hands it over. */
export interface ReadyGeneration {
  readonly next: Generation;
  readonly launch: Launch;
  /** The generation that served when this one was started. */
  readonly old: Generation | undefined;
  readonly probe: Probe | undefined;
  readonly artifact: string | undefined;
  /** Its build identity when it rolls out as a canary (screened before it started). */
  readonly identity: string | undefined;
}

/**
 * Everything that may change a running service, as a message to its one owner (the
 * runner's command queue). From outside: start, reload, restart, update, rollout,
 * signal. From its own parts: a ready generation from the reload cycle, a promotion
 * from the canary release, an exit from the generations, a liveness verdict.
 */
export type ServiceCommand =
  | { readonly kind: 'start' }
  /** changed: the source paths that changed (relative to the watch root); restartOnly: none of them needs a build. */
  | { readonly kind: 'reload'; readonly reasons: readonly string[]; readonly detectStartedAt?: number; readonly timing?: DetectTiming; readonly changed?: readonly string[]; readonly restartOnly?: boolean }
  /** A generation of the same build (env file, app config, run settings, restartWith). */
  | { readonly kind: 'restart'; readonly reason: string }
  /** An edit of airlock.yaml that keeps the service's address and handoff. */
  | { readonly kind: 'update'; readonly plan: ServicePlan }
  | { readonly kind: 'rollout'; readonly action: RolloutAction }
  /** deliver: signal — the generation that takes traffic re-reads its config snapshot. */
  | { readonly kind: 'signal'; readonly signal: NodeJS.Signals }
  /** A stop-first handoff is about to stop the serving generation: its liveness watch ends. */
  | { readonly kind: 'stop-first' }
  | { readonly kind: 'ready'; readonly ready: ReadyGeneration }
  | { readonly kind: 'promoted'; readonly canary: Generation; readonly probe: Probe | undefined; readonly stable: Generation }
  | { readonly kind: 'exited'; readonly generation: Generation }
  | { readonly kind: 'unhealthy'; readonly generation: Generation; readonly detail: string };
