import { chmodSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { ServicePlan } from '../config/plan.js';
import { AirlockError, fullCode, type ErrorCode } from '../errors.js';
import type { AirlockEvent, EventBus } from '../events.js';
import type { NewArtifacts, ObtainContext, Obtained } from '../pipeline/artifact-source.js';
import { sha256File } from '../pipeline/build-identity.js';
import { syncDir } from '../atomic-file.js';
import { isArchive, unpackRelease } from './unpack.js';
import { AgentStateFile } from './agent-state.js';
import { ReleaseChannel, type Release } from './channel.js';
import { chooseRelease, type Choice } from './choice.js';
import { hostname } from 'node:os';
import { parseLocation } from '../config/release-location.js';
import { watchTimestamp } from './nats/changes.js';

/** How long an agent's first check may wait for its channel before it runs the release it verified last (#chooseOrLastVerified). */
const OFFLINE_AFTER_MS = 5_000;

/** Failures of a new generation that make its release bad (not an env file, not a refusal before it started). */
const GATE_FAILURES = new Set(['HEALTH_FAILED', 'START_TIMEOUT', 'PROCESS_CRASHED', 'START_FAILED', 'MEMORY_GROWTH', 'PORT_CONFLICT'].map((code) => fullCode(code as ErrorCode)));

/**
 * A service's artifacts from a signed release channel (`release:` in airlock.yaml): the
 * artifact source `airlock agent` gives the runner instead of builds. Each obtain
 * refreshes the channel through tuf-js, picks the newest release not below the highest
 * this machine applied and not marked bad, streams it to a temp file (tuf-js checks length
 * and hash), renames it into the content-addressed store (.airlock/store/sha256/<hex>),
 * and hands it to the same gate and swap as a build. Whether it took traffic or failed is
 * read from the service's events and written to disk before anything else acts on it.
 *
 * @example
 *   const source = new ReleaseSource(() => plan, bus);
 *   const runner = new ServiceRunner(plan, bus, { source: () => source });
 */
export class ReleaseSource implements NewArtifacts {
  readonly kind = 'new';
  readonly needsArtifact = true;
  #lastObtained: string | undefined;
  readonly #channel: ReleaseChannel;
  readonly #state: AgentStateFile;
  /** Generation → the release it runs, as head or canary. */
  readonly #handed = new Map<number, Choice>();
  /** Store path → its release. */
  readonly #byPath = new Map<string, Release>();
  /** A release handed to a reload that has not ended yet: the poll does not ask for it again. */
  #inFlight: number | undefined;
  /** The last refusal said (the poll says one only when it changes). */
  #lastRefusal: string | undefined;
  #lastNewest: number | undefined;
  readonly #unsubscribe: () => void;

  constructor(
    private readonly plan: () => ServicePlan,
    private readonly bus: EventBus,
    /** This agent's host id (`airlock agent --host`): a fleet rollout names its canary hosts by it. */
    private readonly host: string = hostname(),
  ) {
    const { dir, name } = plan();
    const settings = this.#settings();
    const cacheDir = join(dir, '.airlock', 'release', name);
    this.#channel = new ReleaseChannel({ from: settings.from, trust: settings.trust, cacheDir });
    this.#state = new AgentStateFile(join(cacheDir, 'state.json'));
    this.#unsubscribe = bus.subscribe((event) => this.#heard(event), 'the release source');
  }

  #settings(): NonNullable<ServicePlan['release']> {
    const release = this.plan().release;
    if (release === undefined) throw new AirlockError('RELEASE_REPO', `service ${this.plan().name} has no release: settings`);
    return release;
  }

  get lastObtained(): string | undefined {
    return this.#lastObtained;
  }

  reusable(artifact: string): boolean {
    const release = this.#byPath.get(artifact);
    return release === undefined || this.#state.state.bad[release.version] === undefined;
  }

  async obtain(context: ObtainContext): Promise<Obtained> {
    let choice: Choice;
    try {
      choice = this.#lastObtained === undefined ? await this.#chooseOrLastVerified() : await this.#choose(true);
    } catch (error) {
      this.#refuse(error);
      return { ok: false };
    }
    const chosen = choice.release;
    const path = await this.#store(chosen).catch((error: unknown) => error as Error);
    if (path instanceof Error) {
      this.#refuse(path, chosen.version);
      return { ok: false };
    }
    if (context.signal.aborted) return { ok: false };
    this.#handed.set(context.n, choice);
    this.#byPath.set(path, chosen);
    this.#inFlight = chosen.version;
    this.#lastObtained = path;
    this.#lastRefusal = undefined;
    this.#retryMs = 0;
    return { ok: true, artifact: path, identity: { digest: `sha256:${chosen.sha256}`, release: { version: chosen.version, channel: chosen.channel } } };
  }

  /**
   * The first obtain of a run: the channel's choice, unless the channel cannot be reached
   * (NATS away, or no answer within OFFLINE_AFTER_MS) and this machine applied a release
   * before whose file is intact in the store and which the metadata verified then lists:
   * that one starts again, said once, and the watch moves on once the channel answers. An
   * agent restarted during a NATS outage serves instead of waiting for it.
   */
  async #chooseOrLastVerified(): Promise<Choice> {
    const fallback = await this.#lastVerified();
    if (fallback === undefined) return this.#choose(true);
    const choosing = this.#choose(true).then(
      (choice) => ({ choice }),
      (error: unknown) => ({ error }),
    );
    const waited = await Promise.race([choosing, new Promise<undefined>((resolve) => void setTimeout(() => resolve(undefined), OFFLINE_AFTER_MS).unref())]);
    if (waited !== undefined && 'choice' in waited) return waited.choice;
    if (waited !== undefined && !(waited.error instanceof AirlockError && waited.error.code === 'NATS_UNREACHABLE')) throw waited.error;
    const { name } = this.plan();
    const why = waited === undefined ? `no answer within ${OFFLINE_AFTER_MS / 1000} s` : (waited.error as Error).message;
    this.bus.emit({ type: 'release.refused', service: name, channel: this.#settings().channel, version: undefined, code: fullCode('NATS_UNREACHABLE'), message: `${this.#settings().from}: the channel cannot be reached (${why}); running ${fallback.release.version} again, the release this machine verified and applied last, until it answers` });
    this.#retrySoon();
    return fallback;
  }

  /** The release applied last here, if its file is intact and the verified metadata in the cache lists it. */
  async #lastVerified(): Promise<Choice | undefined> {
    const { applied, highest } = this.#state.state;
    if (applied === undefined) return undefined;
    const { name } = this.plan();
    const release = this.#channel.cachedRelease(name, this.#settings().channel, applied.sha256);
    const file = join(this.plan().dir, '.airlock', 'store', 'sha256', applied.sha256);
    if (release === undefined || !existsSync(file) || (await sha256File(file)) !== applied.sha256) return undefined;
    return { release, role: release.version <= highest ? 'head' : 'canary' };
  }

  /** The release to run now (release/choice.ts): the head, or the canary when the fleet rollout names this host. */
  async #choose(announce: boolean): Promise<Choice> {
    const { name } = this.plan();
    const { from, channel } = this.#settings();
    const releases = await this.#channel.releases(name, channel);
    const state = await this.#channel.fleetState(name, channel);
    const choice = chooseRelease(releases, state, this.host, this.#state.state, { from, service: name, channel });
    const newest = releases.find((release) => release.staged !== true || release.version === state?.head)?.version;
    if (announce || newest !== this.#lastNewest) this.bus.emit({ type: 'release.checked', service: name, channel, newest, running: this.#state.state.applied?.version });
    this.#lastNewest = newest;
    return choice;
  }

  /** What a generation runs: the release's file in the store, or for a .tar.gz the directory it unpacks to ({artifact}). */
  async #store(release: Release): Promise<string> {
    const file = await this.#fetch(release);
    if (!isArchive(release.target.path)) return file;
    const unpacked = join(this.plan().dir, '.airlock', 'store', 'unpacked', release.sha256);
    // Renamed into place only when complete: if it is there, it is whole.
    if (!existsSync(unpacked)) await unpackRelease(file, unpacked);
    return unpacked;
  }

  /** The release's file in the content-addressed store, downloaded and verified first if it is not there (or not intact). */
  async #fetch(release: Release): Promise<string> {
    const store = join(this.plan().dir, '.airlock', 'store', 'sha256');
    const path = join(store, release.sha256);
    mkdirSync(store, { recursive: true });
    // A download cut short by a kill left its temp file: never used, removed now.
    for (const name of readdirSync(store)) if (name.startsWith('.') && name.endsWith('.download')) rmSync(join(store, name), { force: true });
    if (existsSync(path) && (await sha256File(path)) === release.sha256) return path;
    const temp = join(store, `.${release.sha256}.${process.pid}.download`);
    try {
      await this.#channel.download(release, temp);
      chmodSync(temp, 0o755);
      renameSync(temp, path);
      syncDir(store);
    } finally {
      rmSync(temp, { force: true });
    }
    return path;
  }

  #refuse(error: unknown, version?: number): void {
    const failure = error instanceof AirlockError ? error : new AirlockError('RELEASE_REFUSED', String((error as Error)?.message ?? error));
    // The transport failed, not the release: check again soon (backing off up to the poll) instead of at the next poll.
    if (failure.code === 'NATS_UNREACHABLE') this.#retrySoon();
    const key = `${failure.code}:${failure.message}`;
    // The poll meets the same refusal every few seconds: said once until it changes.
    if (key === this.#lastRefusal) return;
    this.#lastRefusal = key;
    const { name } = this.plan();
    this.bus.emit({ type: 'release.refused', service: name, channel: this.#settings().channel, version, code: fullCode(failure.code), message: failure.message });
  }

  /** What became of a generation this source gave a release to. */
  #heard(event: AirlockEvent): void {
    if (event.service !== this.plan().name) return;
    if (event.type === 'reload.ready') return this.#applied(event.generation);
    if (event.type === 'reload.failed' && GATE_FAILURES.has(event.code)) return this.#bad(event.generation, event.code, event.message);
    if (event.type === 'rollback') return this.#bad(event.failed, event.code, event.message);
    if (event.type === 'rollout.aborted') return this.#bad(event.canary, event.code, event.reason);
  }

  #applied(generation: number): void {
    const handed = this.#handed.get(generation);
    if (handed === undefined) return;
    const { release, role } = handed;
    if (this.#inFlight === release.version) this.#inFlight = undefined;
    // Only a head raises the replay floor: a canary rolled back leaves the head below it.
    this.#state.update((state) => ({ ...state, highest: role === 'head' ? Math.max(state.highest, release.version) : state.highest, applied: { version: release.version, sha256: release.sha256 } }));
    this.bus.emit({ type: 'release.applied', service: this.plan().name, channel: release.channel, version: release.version, generation, sha256: release.sha256, ...(role === 'canary' ? { canary: true } : {}) });
  }

  #bad(generation: number, code: string, reason: string): void {
    const release = this.#handed.get(generation)?.release;
    if (release === undefined) return;
    if (this.#inFlight === release.version) this.#inFlight = undefined;
    // On disk before anything retries: a restart never applies it again.
    // A failure's message usually names its generation already ("g3: exited …").
    const why = reason.startsWith(`g${generation}:`) ? reason : `g${generation}: ${reason}`;
    this.#state.update((state) => ({ ...state, bad: { ...state.bad, [release.version]: why } }));
    this.bus.emit({ type: 'release.rolled_back', service: this.plan().name, channel: release.channel, version: release.version, generation, code: fullCode('RELEASE_BAD'), reason: `${reason} [${code}]` });
  }

  /** How the watch checks at once (set by watch()); the delay of the next early retry after a transport failure. */
  #pollNow: (() => void) | undefined;
  #retryMs = 0;
  #retryTimer: NodeJS.Timeout | undefined;

  #retrySoon(): void {
    if (this.#pollNow === undefined || this.#retryTimer !== undefined) return;
    this.#retryMs = Math.min(this.#settings().pollMs, Math.max(500, this.#retryMs * 2));
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      this.#pollNow?.();
    }, this.#retryMs);
  }

  /** Polls the channel; a release newer than the one applied (and not already on its way) asks for a reload. */
  watch(onNew: (reason: string) => void): () => void {
    let checking = false;
    /** A change heard while a check ran: check again once it ends (the check may have read the metadata before it). */
    let again = false;
    const poll = async (): Promise<void> => {
      if (checking) {
        again = true;
        return;
      }
      checking = true;
      try {
        const chosen = (await this.#choose(false)).release;
        const running = this.#state.state.applied?.version;
        if (chosen.version !== running && chosen.version !== this.#inFlight) onNew(`release ${chosen.version} on ${chosen.channel}`);
      } catch (error) {
        this.#refuse(error);
      } finally {
        checking = false;
      }
      if (again) {
        again = false;
        return poll();
      }
    };
    const timer = setInterval(() => void poll(), this.#settings().pollMs);
    this.#pollNow = () => void poll();
    const location = parseLocation(this.#settings().from);
    const stopWatch = location.kind === 'nats' ? watchTimestamp(location, `airlock agent ${this.plan().name}@${this.host}`, () => void poll()) : undefined;
    return () => {
      clearInterval(timer);
      clearTimeout(this.#retryTimer);
      this.#pollNow = undefined;
      stopWatch?.();
      this.#unsubscribe();
    };
  }
}
