import type { Clock } from '../clock.js';
import { GoGraph } from '../build/go-graph.js';
import type { ServicePlan } from '../config/plan.js';
import type { EventBus } from '../events.js';
import { ChangeDetector, type SourceChange } from './changes.js';
import { moduleScope, serviceScope, type WatchScope } from './scope.js';

/** One change detector's job: a scope, and for a Go module the mains its graph maps. */
interface DetectorSpec {
  readonly scope: WatchScope;
  readonly go: { readonly moduleDir: string; readonly mains: Readonly<Record<string, string>> } | undefined;
}

/** Go services grouped by module share one graph and one detector; every other service has its own. */
function detectorSpecs(plans: readonly ServicePlan[]): Map<string, DetectorSpec> {
  const modules = new Map<string, ServicePlan[]>();
  for (const plan of plans) if (plan.go) modules.set(plan.go.moduleDir, [...(modules.get(plan.go.moduleDir) ?? []), plan]);
  const specs: DetectorSpec[] = [
    ...[...modules].map(([moduleDir, group]) => ({
      scope: moduleScope(group),
      go: { moduleDir, mains: Object.fromEntries(group.map((plan) => [plan.name, plan.go?.main as string])) },
    })),
    ...plans.filter((plan) => !plan.go).map((plan) => ({ scope: serviceScope(plan), go: undefined })),
  ];
  // The spec itself is the key: an edit that leaves it alone keeps the detector (and its hashes).
  return new Map(specs.map((spec) => [JSON.stringify(spec), spec]));
}

/**
 * The change detectors of all services: one per service, or one per Go module shared by
 * its services (watched, hashed and mapped through the module graph once). `sync` makes
 * the set match the plans in force, keeping every detector whose scope did not change.
 *
 * @example
 *   const detectors = new Detectors(bus, { clock, ignore });
 *   await detectors.sync(plans, (service, change) => runners.get(service)?.changed(change), true);
 */
export class Detectors {
  readonly #detectors = new Map<string, ChangeDetector>();

  constructor(
    private readonly bus: EventBus,
    private readonly options: { readonly clock?: Clock; readonly ignore: (path: string) => boolean },
  ) {}

  /** Creates the detectors the plans need and retires the ones no longer needed (new ones first: no gap). */
  async sync(plans: readonly ServicePlan[], reload: (service: string, change: SourceChange) => void, watching: boolean): Promise<void> {
    const wanted = detectorSpecs(plans);
    const created = [...wanted].filter(([key]) => !this.#detectors.has(key));
    const retired = [...this.#detectors].filter(([key]) => !wanted.has(key));
    // From here on, what the old ones see is for their successors.
    for (const [, old] of retired) old.hold();
    await Promise.all(
      created.map(async ([key, spec]) => {
        const graph = spec.go ? new GoGraph(spec.go.moduleDir, spec.go.mains) : undefined;
        await graph?.load();
        // The hashes of the detector it replaces: a file saved meanwhile still counts as changed.
        const content = retired.find(([, old]) => old.root === spec.scope.watch.root)?.[1].content;
        const detector = new ChangeDetector(spec.scope, this.bus, { clock: this.options.clock, goGraph: graph, ignore: this.options.ignore, content }, reload);
        this.#detectors.set(key, detector);
        if (watching) await detector.start();
      }),
    );
    for (const [key] of retired) this.#detectors.delete(key);
    // What a retired detector saw but had not handed on goes to its successors (same root).
    const successors = (root: string) => created.map(([key]) => this.#detectors.get(key) as ChangeDetector).filter((d) => d.root === root);
    await Promise.all(
      retired.map(async ([, old]) => {
        const handed = await old.retire().catch(() => undefined);
        if (handed) for (const successor of successors(old.root)) successor.adopt(handed);
      }),
    );
  }

  async stop(): Promise<void> {
    await Promise.all([...this.#detectors.values()].map((detector) => detector.stop().catch(() => undefined)));
  }
}
