import { stat } from 'node:fs/promises';
import { dirname, relative } from 'node:path';
import type { GoGraph } from '../build/go-graph.js';
import type { ServicePlan } from '../config/plan.js';
import { fullCode } from '../errors.js';
import type { EventBus } from '../events.js';
import { ContentTracker, expandDirectories } from '../watch/content.js';
import { Debouncer, type Clock, realClock } from '../watch/debounce.js';
import { createFilter, type PathFilter } from '../watch/filter.js';
import { watchTree, type WatchEvent, type WatchHandle } from '../watch/watcher.js';

/**
 * @parcel/watcher reports the first event after a quiet spell at once and the rest of a
 * burst (a checkout, a formatter) 50 ms later: a debounce shorter than that would build
 * the first file alone. 0 stays 0: the user asked for no wait at all.
 */
const WATCHER_BATCH_MS = 60;
function quietPeriod(debounceMs: number): number {
  return debounceMs === 0 ? 0 : Math.max(debounceMs, WATCHER_BATCH_MS);
}

/**
 * Inside a burst (batches arriving less than BURST_GAP_MS apart) the tree counts as quiet
 * only after BURST_QUIET_MS without input: the watcher's 50 ms batch cadence plus a busy
 * event loop would otherwise split one checkout into several builds.
 */
const BURST_GAP_MS = 200;
const BURST_QUIET_MS = 150;

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

export interface ChangeOptions {
  readonly clock?: Clock;
  readonly goGraph?: GoGraph;
}

/**
 * The watch end of a service's pipeline: file events → filter → debounce (until the files
 * stopped changing) → content check → Go graph (does it reach this service?) → one call
 * of onChange with the changed paths, relative to the watch root.
 *
 * @example
 *   const changes = new ChangeDetector(plan, bus, {}, (paths, firstAt) => service.reload(paths, firstAt));
 *   await changes.start();
 */
export class ChangeDetector {
  readonly #filter: PathFilter;
  readonly #content = new ContentTracker();
  readonly #debouncer: Debouncer<string>;
  #watcher: WatchHandle | undefined;
  #stopped = false;
  /** When the watcher last reported any input of this service's tree. */
  #lastInputAt = -Infinity;
  /** Set when input batches follow each other closely; cleared when a change is handed on. */
  #inBurst = false;
  #quiet: Promise<void> = Promise.resolve();

  constructor(
    private readonly plan: ServicePlan,
    private readonly bus: EventBus,
    private readonly options: ChangeOptions,
    private readonly onChange: (paths: string[], firstAt: number) => void,
  ) {
    this.#filter = createFilter(plan.watch);
    // One quiet period is handled at a time: two overlapping ones would hash the same
    // files twice and call the second set "unchanged".
    this.#debouncer = new Debouncer(
      quietPeriod(plan.watch.debounceMs),
      (paths, firstAt) => {
        this.#quiet = this.#quiet.then(() => this.#onQuiet(paths, firstAt)).catch(() => undefined);
      },
      options.clock ?? realClock,
    );
  }

  async start(): Promise<void> {
    const started = performance.now();
    this.#watcher = await watchTree(
      this.plan.watch.root,
      (events) => this.#onEvents(events),
      (error) => this.bus.emit({ type: 'error', service: this.plan.name, code: fullCode(error.code), message: error.message }),
    );
    this.bus.emit({ type: 'watch.started', service: this.plan.name, root: this.plan.watch.root, ms: performance.now() - started });
    void this.#content.prime(this.plan.watch.root, this.#filter);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#debouncer.cancel();
    await this.#watcher?.close();
  }

  #onEvents(events: readonly WatchEvent[]): void {
    const paths = events.map((event) => event.path);
    void this.#withNewDirectories(events).then((found) => {
      const inputs = [...paths, ...found].filter((path) => this.#filter.matches(path));
      if (inputs.length === 0 || this.#stopped) return;
      const now = performance.now();
      if (now - this.#lastInputAt < BURST_GAP_MS) this.#inBurst = true;
      this.#lastInputAt = now;
      this.#debouncer.add(inputs);
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
    // The watcher delivers a long burst in batches (50 to 500 ms apart); quiet means the
    // tree stopped changing: no input reported within the window, and none of these files
    // written within it (a batch can still be on its way).
    const window = this.plan.watch.debounceMs;
    const quiet = this.#inBurst && window > 0 ? Math.max(window, BURST_QUIET_MS) : window;
    const busy = performance.now() - this.#lastInputAt < quiet || (await newestWriteAgo(paths)) < window;
    if (busy && performance.now() - firstAt < MAX_SETTLE_MS) {
      this.#debouncer.add(paths, firstAt);
      return;
    }
    this.#inBurst = false;
    let changed = await this.#content.changed(paths);
    const rel = (list: readonly string[]) => list.map((path) => relative(this.plan.watch.root, path));
    if (changed.length === 0) {
      this.bus.emit({ type: 'change.unchanged', service: this.plan.name, paths: rel([...paths]) });
      return;
    }
    const graph = this.options.goGraph;
    if (graph) {
      const reaching = (await graph.affected(changed)).services.get(this.plan.name);
      if (reaching === undefined) {
        this.bus.emit({ type: 'change.unaffected', service: this.plan.name, paths: rel(changed) });
        return;
      }
      changed = [...reaching];
    }
    if (this.#stopped) return;
    this.bus.emit({ type: 'change.detected', service: this.plan.name, paths: rel(changed) });
    this.onChange(rel(changed), firstAt);
  }
}
