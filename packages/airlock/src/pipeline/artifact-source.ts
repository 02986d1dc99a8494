import { existsSync } from 'node:fs';
import { ArtifactStore } from '../build/artifacts.js';
import { fullCode } from '../errors.js';
import type { BuildSlots } from '../build/slots.js';
import type { ServicePlan } from '../config/plan.js';
import type { EventBus } from '../events.js';
import { buildGeneration } from './build-step.js';

/** What a reload knows when it asks its source for an artifact. */
export interface ObtainContext {
  readonly n: number;
  /** Aborted by a newer change (or by airlock stopping): a build is killed. */
  readonly signal: AbortSignal;
  /** The env files as read for this reload. */
  readonly fileEnv: Readonly<Record<string, string>>;
  /** Artifacts still in use (the running one, the previous one): never pruned. */
  readonly inUse: readonly string[];
  /** The artifact a generation of "the same build" runs: the current, the last started, else the newest built one. */
  readonly same: string | undefined;
  /** `; g3 (pid 123) keeps running` for a failure message ('' when nothing runs). */
  readonly keeps: string;
}

/** What an artifact is, when its source knows it without reading the file again: its digest, and for a release its version and channel. */
export interface ArtifactIdentity {
  /** `sha256:<hex>` of the file (a release knows it from its verified metadata). */
  readonly digest: string;
  readonly release?: { readonly version: number; readonly channel: string };
}

export type Obtained = { readonly ok: true; readonly artifact: string | undefined; readonly buildMs?: number; readonly identity?: ArtifactIdentity } | { readonly ok: false };

/**
 * Where a generation's artifact comes from: something new (a build: watch → build →
 * artifact store; later a verified release) or a reuse of one that exists (a restart with
 * new settings, a crash restart, a rollback). Failures are reported as events by the
 * source; `ok: false` only says there is nothing to run.
 */
export interface ArtifactSource {
  /** new makes (or fetches) a new artifact, and wins when requests coalesce; reuse runs one that exists. */
  readonly kind: 'new' | 'reuse';
  obtain(context: ObtainContext): Promise<Obtained>;
}

/**
 * A service's own source of new artifacts, given to its runner: `Builds` under `airlock
 * dev` and `airlock run`; a release source under `airlock agent`. The runner, its
 * recovery and its rollbacks never ask which one they have.
 */
export interface NewArtifacts extends ArtifactSource {
  readonly kind: 'new';
  /** The newest artifact obtained, which may never have become ready (a crash loop since start). */
  readonly lastObtained: string | undefined;
  /** The service runs an obtained artifact ({artifact} in its commands), so without one it cannot start. */
  readonly needsArtifact: boolean;
  /** Whether an artifact it gave may run again (a restart, a rollback): false for one it has since refused. */
  reusable(artifact: string): boolean;
  /**
   * Calls `onNew` when the source has something new to offer on its own (a release
   * published), as a file change does for builds; returns how to stop. Builds have no
   * such thing: the change detectors ask for their reloads.
   */
  watch?(onNew: (reason: string) => void): () => void;
}

/**
 * Makes a service's source for the plan in force (read on each use: an edit of
 * airlock.yaml may move the artifact).
 *
 * @example
 *   const source: SourceFactory = (plan, bus) => new Builds(plan, bus, slots);
 */
export type SourceFactory = (plan: () => ServicePlan, bus: EventBus) => NewArtifacts;

/**
 * A service's builds: runs the build (in a build slot, cancellable), moves a good one
 * into the artifact store as generation n's, and prunes what no generation needs.
 *
 * @example
 *   const builds = new Builds(() => runner.plan, bus, slots);
 *   const obtained = await builds.obtain({ n: 4, signal, fileEnv, inUse: [], same: undefined, keeps: '' });
 */
export class Builds implements NewArtifacts {
  readonly kind = 'new';
  #store: ArtifactStore | undefined;
  #storeFor: string | undefined;
  /** The newest good build, which may never have become ready (a crash loop since start). */
  #lastBuilt: string | undefined;

  constructor(
    private readonly plan: () => ServicePlan,
    private readonly bus: EventBus,
    private readonly slots: BuildSlots | undefined,
  ) {}

  get lastObtained(): string | undefined {
    return this.#lastBuilt;
  }

  get needsArtifact(): boolean {
    return this.plan().artifact !== undefined;
  }

  /** A build that ran once may run again. */
  reusable(): boolean {
    return true;
  }

  /** The store for the plan in force (an edit of airlock.yaml may move the artifact). */
  #artifacts(): ArtifactStore | undefined {
    const path = this.plan().artifact;
    if (path !== this.#storeFor) {
      this.#store = path ? new ArtifactStore(path) : undefined;
      this.#storeFor = path;
    }
    return this.#store;
  }

  async obtain(context: ObtainContext): Promise<Obtained> {
    const plan = this.plan();
    if (!plan.build) return { ok: true, artifact: context.same };
    const started = performance.now();
    const store = this.#artifacts();
    const step = { plan, bus: this.bus, artifactPath: store?.buildPath ?? '', slots: this.slots, fileEnv: context.fileEnv, keeps: () => context.keeps };
    if (!(await buildGeneration(step, context.n, context.signal))) return { ok: false };
    if (store !== undefined && !existsSync(store.buildPath)) {
      // A build that "succeeded" without its output is the user's to fix, not a crash of ours.
      const message = `the build command exited 0 but did not write {artifact} (${store.buildPath})${context.keeps}`;
      this.bus.emit({ type: 'build.failed', service: plan.name, generation: context.n, code: fullCode('BUILD_NO_ARTIFACT'), message, locations: [] });
      return { ok: false };
    }
    const artifact = store?.commit(context.n, context.inUse);
    this.#lastBuilt = artifact;
    return { ok: true, artifact, buildMs: performance.now() - started };
  }
}

/**
 * Runs an artifact that exists: `artifact` (a rollback), or the same one as now. A
 * service that has nothing to run yet (its first build failed, or never became ready and
 * was never kept) obtains a new one from its source instead, whatever asked.
 *
 * @example
 *   scheduler.request(['rollback from g4'], reuse(builds, 'bin/api.g3'));
 */
export function reuse(source: NewArtifacts, artifact?: string): ArtifactSource {
  return {
    kind: 'reuse',
    obtain: async (context) => {
      const chosen = artifact ?? context.same;
      // Nothing to run again, or what there is was refused since (a bad release): something new instead.
      if ((chosen === undefined && source.needsArtifact) || (chosen !== undefined && !source.reusable(chosen))) return source.obtain(context);
      return { ok: true, artifact: chosen };
    },
  };
}

/** When requests coalesce, a new artifact wins over a reuse; a later reuse replaces an earlier one. */
export function mergeSources(pending: ArtifactSource, incoming: ArtifactSource): ArtifactSource {
  return pending.kind === 'new' && incoming.kind !== 'new' ? pending : incoming;
}
