import { copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Metadata, MetadataKind, type TargetFile } from '@tufjs/models';
import { Updater } from 'tuf-js';
import { AirlockError } from '../errors.js';
import { locate } from './fetchers.js';
import { releaseOf, type ReleaseCustom } from './repository.js';
import { fleetStateOf, rolloutTargetPath, type FleetState } from './rollout-role.js';

/** A release of one service on one channel, as the verified targets metadata lists it. */
export interface Release extends ReleaseCustom {
  readonly target: TargetFile;
  /** The sha256 of its file (hex). */
  readonly sha256: string;
}

export interface ChannelOptions {
  /** The repository: a directory or an http(s) URL. */
  readonly from: string;
  /** The root metadata trusted first (KEYDIR/1.root.json). */
  readonly trust: string;
  /** Where the client keeps the metadata it verified (newer roots, the last timestamp, snapshot, targets). */
  readonly cacheDir: string;
  /** nats://: wait for a server to answer (an agent, the default) or fail at once (a command). */
  readonly waitForServer?: boolean;
}

/**
 * A release channel read through tuf-js, a maintained TUF 1.0 client: every refresh walks
 * root rotations, checks signatures and thresholds, expiry, rollback of timestamp,
 * snapshot and targets, and length caps; every download checks length and hash. What it
 * refuses is an AirlockError RELEASE_REFUSED with tuf-js's reason; nothing of it is used.
 *
 * @example
 *   const channel = new ReleaseChannel({ from: 'channel', trust: 'keys/1.root.json', cacheDir: '.airlock/release/api' });
 *   const [newest] = await channel.releases('api', 'stable');
 *   await channel.download(newest, '.airlock/store/sha256/tmp');
 */
export class ReleaseChannel {
  #updater: Updater | undefined;

  constructor(private readonly options: ChannelOptions) {}

  #metadataDir(): string {
    return join(this.options.cacheDir, 'metadata');
  }

  /** Refreshes the metadata and returns the releases of `service` on `channel`, newest first (its plugins' are not among them). */
  async releases(service: string, channel: string): Promise<Release[]> {
    return (await this.#refresh(service, channel)).filter((release) => release.plugin === undefined);
  }

  /** Refreshes the metadata and returns the releases of `service`'s plugins on `channel`, newest first. */
  async pluginReleases(service: string, channel: string): Promise<Release[]> {
    return (await this.#refresh(service, channel)).filter((release) => release.plugin !== undefined);
  }

  async #refresh(service: string, channel: string): Promise<Release[]> {
    const metadataDir = this.#metadataDir();
    mkdirSync(metadataDir, { recursive: true });
    // The first time only: later refreshes start from the newest root already verified.
    if (!existsSync(join(metadataDir, 'root.json'))) copyFileSync(this.options.trust, join(metadataDir, 'root.json'));
    const { metadataBaseUrl, targetBaseUrl, fetcher } = locate(this.options.from, this.options.waitForServer ?? true);
    const updater = new Updater({ metadataDir, metadataBaseUrl, targetBaseUrl, fetcher, config: { fetchRetries: 0, fetchTimeout: 30_000 } });
    try {
      await updater.refresh();
    } catch (error) {
      // The transport's own failures (NATS away, no such repository) are not a refusal of what it sent.
      if (error instanceof AirlockError) throw error;
      throw new AirlockError('RELEASE_REFUSED', `${this.options.from}: the TUF client refused the channel: ${(error as Error).message}`, { cause: error });
    }
    this.#updater = updater;
    // tuf-js wrote the top-level targets it has just verified here.
    const targets = Metadata.fromJSON(MetadataKind.Targets, JSON.parse(readFileSync(join(metadataDir, 'targets.json'), 'utf8')));
    return Object.values(targets.signed.targets)
      .map((target) => ({ target, release: releaseOf(target) }))
      .filter(({ release }) => release?.service === service && release.channel === channel)
      .map(({ target, release }) => ({ ...(release as ReleaseCustom), target, sha256: target.hashes.sha256 ?? '' }))
      .sort((a, b) => b.version - a.version);
  }

  /**
   * A release of `service` on `channel` with file hash `sha256`, as the targets metadata
   * verified by an earlier run lists it (tuf-js keeps it in the cache directory): what an
   * agent restarted while its channel cannot be reached may run again. Undefined when the
   * cache holds no such target.
   */
  cachedRelease(service: string, channel: string, sha256: string): Release | undefined {
    const file = join(this.#metadataDir(), 'targets.json');
    if (!existsSync(file)) return undefined;
    const targets = Metadata.fromJSON(MetadataKind.Targets, JSON.parse(readFileSync(file, 'utf8')));
    for (const target of Object.values(targets.signed.targets)) {
      const release = releaseOf(target);
      if (release?.service === service && release.channel === channel && release.plugin === undefined && target.hashes.sha256 === sha256) return { ...release, target, sha256 };
    }
    return undefined;
  }

  /**
   * The fleet rollout state of `service` on `channel` as of the last refresh, verified
   * through the delegation to the rollout key (undefined: no rollout was ever written, or
   * a repository without the rollout role). A state signed by another key, or rolled back
   * to an older version, is refused like any other metadata.
   */
  async fleetState(service: string, channel: string): Promise<FleetState | undefined> {
    const updater = this.#updater;
    if (updater === undefined) throw new Error('fleetState before releases(): nothing verified yet');
    let info: TargetFile | undefined;
    try {
      info = await updater.getTargetInfo(rolloutTargetPath(service, channel));
    } catch (error) {
      throw new AirlockError('RELEASE_REFUSED', `${this.options.from}: the TUF client refused the rollout state of ${service} on ${channel}: ${(error as Error).message}`, { cause: error });
    }
    if (info === undefined) return undefined;
    const state = fleetStateOf(info.custom);
    if (state === undefined) throw new AirlockError('RELEASE_REFUSED', `${this.options.from}: the rollout state of ${service} on ${channel} is signed but not in the shape airlock writes: ${JSON.stringify(info.custom).slice(0, 200)}`);
    return state;
  }

  /** Downloads a release listed by the last refresh into `file` (tuf-js checks its length and hash while it streams). */
  async download(release: Release, file: string): Promise<void> {
    const updater = this.#updater;
    if (updater === undefined) throw new Error('download before releases(): nothing verified yet');
    try {
      // Looked up again through the delegation walk tuf-js verified, not taken from our listing.
      const info = await updater.getTargetInfo(release.target.path);
      if (info === undefined) throw new Error(`${release.target.path} is not a target of the verified metadata`);
      await updater.downloadTarget(info, file);
    } catch (error) {
      // NATS away mid-download is the transport's failure, not a refusal of the release.
      if (error instanceof AirlockError) throw error;
      throw new AirlockError('RELEASE_REFUSED', `${release.service} ${release.version} (${release.target.path}): the download was refused: ${(error as Error).message}`, { cause: error });
    }
  }
}
