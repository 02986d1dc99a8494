import { stat } from 'node:fs/promises';
import { dirname, relative } from 'node:path';
import type { GoGraph } from '../build/go-graph.js';
import { fullCode } from '../errors.js';
import { internalError, type AirlockEvent, type EventBus } from '../events.js';
import { ContentTracker, expandDirectories } from '../watch/content.js';
import { realClock, type Clock } from '../clock.js';
import { BurstRules, type TreeLook } from '../watch/burst.js';
import { Debouncer } from '../watch/debounce.js';
import { createFilter, type PathFilter } from '../watch/filter.js';
import { watcherFor } from '../watch/factory.js';
import { eventlessFileSystem } from '../watch/fs-kind.js';
import type { WatchEvent, WatchHandle } from '../watch/watcher.js';
import { EarlyChanges } from './early.js';
import { splitRestartOnly } from './restart-only.js';
import type { Provisional } from './provisional.js';
import type { WatchScope } from './scope.js';
import { newestWriteAgo, withDirectories } from './tree-look.js';


/** How long each step of detecting a change took (ms), and when it was handed on (clock time). */
export interface DetectTiming {
  readonly settleMs: number;
  readonly hashMs: number;
  readonly graphMs: number;
  readonly handedAt: number;
  readonly watcherMs: number | undefined;
  /** Handed on early (an isolated save, at the debounce): the reload swaps only once this confirms. */
  readonly provisional?: Provisional;
}

/** A change of a service's sources, as handed to its runner. */
export interface SourceChange {
  /** Relative to the watch root. */
  readonly paths: readonly string[];
  /** When its first event came (clock time): the detect phase starts there. */
  readonly firstAt: number;
  readonly timing: DetectTiming;
  /** Only files matched by watch.restartOnly changed: a new generation of the current build, no build. */
  readonly restartOnly: boolean;
}

export interface ChangeOptions {
  readonly clock?: Clock;
  /** Several Go services of one module share a detector; the graph says which a change reaches. */
  readonly goGraph?: GoGraph;
  /**
   * What the files held when last seen, from a detector this one replaces (an edit of
   * airlock.yaml): a change saved while the new one primes its hashes is still a change.
   */
  readonly content?: ContentTracker;
  /**
   * Paths (absolute) that are never a source change: airlock.yaml, env files, app config
   * files and schemas, whose edits airlock applies in their own way.
   */
  readonly ignore?: (path: string) => boolean;
}

/**
 * What a retired detector had not handed on yet: paths still settling, and paths whose
 * change it had already confirmed (their new hashes are recorded, so a successor must
 * take them as changed without comparing again).
 */
export interface HandOver {
  readonly paths: readonly string[];
  readonly changed: readonly string[];
  readonly firstAt: number;
}

/**
 * The watch end of the pipeline: file events → filter → debounce (until the files stopped
 * changing) → content check → Go graph (which services does it reach?) → onChange once
 * per reached service, with the paths that reach it, relative to the watch root. One
 * detector serves one service, or every Go service of a module (watched and hashed once).
 *
 * @example
 *   const changes = new ChangeDetector(serviceScope(plan), bus, {}, (service, change) => runner.changed(change));
 *   await changes.start();
 */
export class ChangeDetector {
  readonly #filter: PathFilter;
  readonly #content: ContentTracker;
  readonly #debouncer: Debouncer<string>;
  #watcher: WatchHandle | undefined;
  #stopped = false;
  readonly #clock: Clock;
  /** Batches whose new directories are still being listed (and their files not yet added). */
  #listing = 0;
  /** When the tree counts as settled (docs/watching.md). */
  readonly #burst: BurstRules;
  #quiet: Promise<void> = Promise.resolve();
  /** Filled while held or retiring: changes seen but left for the successor. */
  readonly #leftover = { paths: new Set<string>(), changed: new Set<string>(), firstAt: Infinity };
  /** Being replaced: changes are still collected, but left for the successor. */
  #holding = false;
  /** Adopted from a predecessor: already known to have changed. */
  readonly #forced = new Set<string>();
  /** Changes handed on early, until the burst rules confirm them. */
  readonly #early: EarlyChanges;
  /** Quiet periods being handled now: confirmation waits for them. */
  #handling = 0;

  constructor(
    private readonly scope: WatchScope,
    private readonly bus: EventBus,
    private readonly options: ChangeOptions,
    private readonly onChange: (service: string, change: SourceChange) => void,
  ) {
    // A Go module's graph knows what its packages embed, also after a new //go:embed line.
    const graph = options.goGraph;
    const filter = createFilter({ ...scope.watch, alsoMatches: graph ? (path) => graph.isInput(path) : undefined });
    // Ignored paths (airlock's own log, env and config files) are no input at all: not
    // hashed, and their writes never make the tree look busy.
    const ignore = options.ignore;
    this.#filter = ignore ? { matches: (path) => filter.matches(path) && !ignore(path), skipsDir: (path) => filter.skipsDir(path) } : filter;
    this.#content = options.content ?? new ContentTracker();
    this.#clock = options.clock ?? realClock;
    this.#burst = new BurstRules(scope.watch.debounceMs, this.#clock);
    // One quiet period is handled at a time: two overlapping ones would hash the same
    // files twice and call the second set "unchanged".
    // The debounce itself, not the longer quiet period of the burst rules: an isolated save
    // is handed on (provisionally) at the debounce, and confirmed at the quiet period.
    this.#debouncer = new Debouncer(
      scope.watch.debounceMs,
      (paths, firstAt) => {
        this.#handling += 1;
        // A failure here would drop the change without a word: say it, and go on watching.
        this.#quiet = this.#quiet
          .then(() => this.#onQuiet(paths, firstAt))
          .catch(this.#reportFailure)
          .finally(() => (this.#handling -= 1));
      },
      this.#clock,
      () => this.#clock.now(),
    );
    this.#early = new EarlyChanges({
      clock: this.#clock,
      burst: this.#burst,
      debounceMs: scope.watch.debounceMs,
      waiting: () => this.#handling > 0 || this.#debouncer.pending,
      look: (paths) => this.#look(paths, this.#clock.wall(), true),
      failed: this.#reportFailure,
    });
  }

  /** An unexpected failure handling a change: said once per service, never dropped in silence nor thrown at airlock. */
  readonly #reportFailure = (error: unknown): void =>
    this.#emitEach((service) => internalError(service, 'handling a change', error));

  /** The content hashes it keeps (handed to a detector that replaces it). */
  get content(): ContentTracker {
    return this.#content;
  }

  get root(): string {
    return this.scope.watch.root;
  }

  async start(): Promise<void> {
    const started = this.#clock.now();
    const watchingSince = this.#clock.wall();
    const root = this.scope.watch.root;
    this.#watcher = await watcherFor(this.scope.watch)(
      root,
      (events) => this.#onEvents(events),
      (error) => this.#emitEach((service) => ({ type: 'error', service, code: fullCode(error.code), message: error.message })),
    );
    const ms = this.#clock.now() - started;
    const pollMs = this.scope.watch.pollMs;
    this.#emitEach((service) => ({ type: 'watch.started', service, root, ms, ...(pollMs === undefined ? {} : { pollMs }) }));
    // Native events may never come from a share: said once, instead of never reloading in silence.
    const share = pollMs === undefined ? eventlessFileSystem(root) : undefined;
    if (share !== undefined) {
      const message = `${root} is on ${share}: file events may not arrive there for changes made elsewhere; if saves are not picked up, set watch: { poll: 500ms }`;
      this.#emitEach((service) => ({ type: 'notice', service, message }));
    }
    this.#content.prime(root, this.#filter, undefined, watchingSince).catch(this.#reportFailure);
  }

  /**
   * Which services the changed files reach (Go module graph), or undefined for all. When
   * `go list` fails (a go.mod caught mid-edit, a newer go directive), the failure is said
   * and every service of the module rebuilds: its build then shows the real error.
   */
  async #reached(changed: readonly string[]): Promise<ReadonlyMap<string, readonly string[]> | undefined> {
    const graph = this.options.goGraph;
    if (graph === undefined) return undefined;
    try {
      return (await graph.affected(changed)).services;
    } catch (error) {
      const message = `cannot tell which services ${changed.length === 1 ? 'this change reaches' : 'these changes reach'}, so all of them rebuild: ${(error as Error).message}`;
      this.#emitEach((service) => ({ type: 'error', service, code: fullCode('PRESET_GO'), message }));
      return undefined;
    }
  }

  #emitEach(event: (service: string) => AirlockEvent): void {
    for (const service of this.scope.services) this.bus.emit(event(service));
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#debouncer.cancel();
    // A reload waiting for its confirmation ends (airlock stops; nothing would confirm it).
    this.#early.drop();
    await this.#watcher?.close();
  }

  /**
   * From now on, changes are collected but not handed on: a successor (with the services
   * the edit added) takes them over at `retire`, so none is mapped with the old services.
   */
  hold(): void {
    this.#holding = true;
  }

  /**
   * Stops, and returns the changes it had seen but not handed on (an edit of airlock.yaml
   * replaces it; a checkout that changed airlock.yaml and sources at once must not lose
   * the sources).
   */
  async retire(): Promise<HandOver> {
    this.#stopped = true;
    // Handed on already: its reload goes on; nothing confirms it now, so it counts as settled.
    this.#early.confirmNow();
    await this.#watcher?.close();
    await this.#quiet;
    const waiting = this.#debouncer.take();
    const left = this.#leftover;
    return {
      paths: [...left.paths, ...(waiting?.items ?? [])],
      changed: [...left.changed],
      firstAt: Math.min(left.firstAt, waiting?.firstAt ?? Infinity),
    };
  }

  /** Takes over a predecessor's unfinished changes (those within this detector's inputs). */
  adopt(handed: HandOver): void {
    const mine = (paths: readonly string[]) => paths.filter((path) => this.#filter.matches(path));
    for (const path of mine(handed.changed)) this.#forced.add(path);
    const paths = [...mine(handed.paths), ...mine(handed.changed)];
    if (paths.length > 0) this.#debouncer.add(paths, Number.isFinite(handed.firstAt) ? handed.firstAt : undefined);
  }

  #leave(paths: Iterable<string>, firstAt: number, into: Set<string>): void {
    for (const path of paths) into.add(path);
    this.#leftover.firstAt = Math.min(this.#leftover.firstAt, firstAt);
  }

  #onEvents(events: readonly WatchEvent[]): void {
    const ignored = this.options.ignore;
    if (ignored) events = events.filter((event) => !ignored(event.path));
    const paths = events.map((event) => event.path);
    // Noted at once, before any await: a quiet period ending now must see this batch. A
    // created path that is no input (an editor's temp file, or a directory: which, the
    // stat below tells) is not noted here; the tree counts as busy while it is listed.
    const repeat = this.#burst.input(paths.filter((path) => this.#filter.matches(path)));
    this.#listing += 1;
    this.#withNewDirectories(events)
      .finally(() => (this.#listing -= 1))
      .then(({ files: found, directories }) => {
        const inputs = [...paths, ...found].filter((path) => this.#filter.matches(path));
        // A new directory, or many files in one batch: a checkout or an unpack is landing,
        // and a writer that pauses for a moment has not finished.
        if (directories.length > 0) this.#burst.input(directories);
        if (directories.length > 0 || new Set(inputs).size > 1) this.#burst.markBurst();
        // The same files again (the rest of one save, held back by the watcher) do not
        // start the debounce over: their mtimes show whether they are still being written.
        if (inputs.length > 0 && !this.#stopped) this.#debouncer.add(inputs, undefined, { keepTimer: repeat && directories.length === 0 });
      }, this.#reportFailure);
  }

  /** Files inside directories that were just created, which get no event of their own. */
  async #withNewDirectories(events: readonly WatchEvent[]): Promise<{ files: string[]; directories: string[] }> {
    const created = await this.#createdDirectories(events);
    return { files: await this.#filesIn(created), directories: created };
  }

  /** The created paths that are directories. */
  async #createdDirectories(events: readonly WatchEvent[]): Promise<string[]> {
    const created: string[] = [];
    for (const event of events) {
      if (event.type !== 'create') continue;
      try {
        if ((await stat(event.path)).isDirectory()) created.push(event.path);
      } catch {
        // already gone
      }
    }
    return created;
  }

  /** The files new directories hold, watching the ones the watcher may have missed. */
  async #filesIn(created: readonly string[]): Promise<string[]> {
    if (created.length === 0) return [];
    const { files, nestedDirs } = await expandDirectories(created, this.#filter);
    // Subscriptions are recursive: one per top-most nested directory is enough.
    const subscribed = nestedDirs.filter((dir) => created.some((parent) => dirname(dir) === parent));
    for (const dir of subscribed) await this.#watcher?.watchAlso(dir);
    // A file written after the walk but before its directory's watch existed has no event:
    // walk the created directories once more, now that every one is watched (found by tests
    // writing a moment after mkdir, and by a 5,000-file burst that lost one file in 5,000).
    const again = await expandDirectories(created, this.#filter);
    return [...new Set([...files, ...again.files])];
  }

  /** What the tree looks like now; `whole`: also whether any known input was written since the last event (stats every input). */
  async #look(paths: Iterable<string>, lookedAt: number, whole: boolean): Promise<TreeLook> {
    const files = new Set(paths);
    const directories = [...withDirectories(files, this.scope.watch.root)].filter((path) => !files.has(path));
    const [filesAgo, directoriesAgo] = await Promise.all([newestWriteAgo(files, lookedAt), newestWriteAgo(directories, lookedAt)]);
    return {
      newestWriteAgoMs: Math.min(filesAgo, directoriesAgo),
      newestDirectoryWriteAgoMs: directoriesAgo,
      writtenSinceLastEvent: whole && this.scope.watch.debounceMs > 0 && (await this.#content.writtenSince(this.#burst.writesCountAfter)),
      listingNewDirectories: this.#listing > 0,
    };
  }

  async #onQuiet(paths: Set<string>, firstAt: number): Promise<void> {
    // Timers run before I/O callbacks in an event loop turn: let a watcher batch that is
    // already waiting be noted before deciding the tree is quiet.
    await new Promise((resolve) => setImmediate(resolve));
    // Early: an isolated save before the burst rules' quiet period is over. It is handed on
    // now and confirmed (or cancelled) later, so the look skips the whole-tree mtime check.
    const early = this.#burst.early(firstAt);
    // The watcher delivers a long burst in batches (50 to 500 ms apart); quiet means the
    // tree stopped changing: no input reported within the window, and none of these files
    // (nor their directories) written within it (a batch can still be on its way).
    const lookedAt = this.#clock.wall();
    const look = await this.#look(paths, lookedAt, !early);
    if (this.#stopped || this.#holding) return this.#leave(paths, firstAt, this.#leftover.paths);
    if (this.#burst.judge(firstAt, look) === 'wait') {
      this.#debouncer.add(paths, firstAt, { delayMs: this.#burst.remainingMs(look) });
      return;
    }
    const settledAt = this.#clock.now();
    const forced = [...paths].filter((path) => this.#forced.delete(path));
    const fresh = [...forced, ...(await this.#content.changed([...paths].filter((path) => !forced.includes(path))))];
    const hashedAt = this.#clock.now();
    const rel = (list: readonly string[]) => list.map((path) => relative(this.scope.watch.root, path));
    if (fresh.length === 0) {
      this.#emitEach((service) => ({ type: 'change.unchanged', service, paths: rel([...paths]) }));
      return;
    }
    // A real change before the early one was confirmed: that one is cancelled, and its
    // paths go on with this one (its services must still rebuild).
    const cancelled: Provisional | undefined = this.#early.cancel();
    const changed = [...new Set([...(cancelled?.changed ?? []), ...fresh])];
    if (cancelled !== undefined) firstAt = Math.min(firstAt, cancelled.firstAt);
    const reached = await this.#reached(changed);
    if (this.#stopped || this.#holding) return this.#leave(changed, firstAt, this.#leftover.changed);
    const handedAt = this.#clock.now();
    // The watcher's own delay: from the newest write of a changed file to the first event.
    const newestWrite = lookedAt - look.newestWriteAgoMs;
    const firstEventWall = lookedAt - (settledAt - firstAt);
    const watcherMs = Number.isFinite(newestWrite) && firstEventWall >= newestWrite ? firstEventWall - newestWrite : undefined;
    const provisional = early && cancelled === undefined ? this.#early.open(changed, firstAt) : undefined;
    const timing: DetectTiming = { settleMs: settledAt - firstAt, hashMs: hashedAt - settledAt, graphMs: handedAt - hashedAt, handedAt, watcherMs, ...(provisional ? { provisional } : {}) };
    for (const service of this.scope.services) {
      // What the build reads (for Go, what its graph reaches); what only needs a restart.
      const built = reached ? rel(reached.get(service) ?? []) : undefined;
      const split = splitRestartOnly(rel(changed), this.scope.restartOnly[service] ?? [], new Set(built));
      const build = built ?? split.build;
      const paths = [...new Set([...build, ...split.restart])];
      if (paths.length === 0) {
        this.bus.emit({ type: 'change.unaffected', service, paths: rel(changed) });
        continue;
      }
      const onlyRestart = build.length === 0;
      this.bus.emit({ type: 'change.detected', service, paths, ...(onlyRestart ? { restartOnly: true } : {}) });
      this.onChange(service, { paths, firstAt, timing, restartOnly: onlyRestart });
    }
  }
}
