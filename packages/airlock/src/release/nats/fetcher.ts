import { BaseFetcher } from 'tuf-js';
// tuf-js tells "no newer root" from a 404 by this class (its index does not export it).
import { DownloadHTTPError } from 'tuf-js/dist/error.js';
import type { NatsLocation } from '../../config/release-location.js';
import { natsFailure } from './buckets.js';
import { sharedRepository } from './shared.js';

/** The base URLs tuf-js is given for a NATS repository: only this fetcher reads them. */
export function natsBaseUrls(location: NatsLocation): { metadataBaseUrl: string; targetBaseUrl: string } {
  const base = `airlock-nats://${location.repo}/`;
  return { metadataBaseUrl: `${base}metadata/`, targetBaseUrl: `${base}targets/` };
}

/**
 * tuf-js's fetcher for a repository in JetStream: metadata files are keys of the
 * metadata bucket, targets are objects of the object store. A missing key is a 404, as
 * over HTTP, so the root rotation walk ends where it should. The transport is never
 * trusted: what it returns is checked by tuf-js like any download (signatures, versions,
 * lengths, hashes).
 *
 * @example
 *   new Updater({ ...natsBaseUrls(location), fetcher: new NatsFetcher(location, 'airlock agent'), metadataDir });
 */
export class NatsFetcher extends BaseFetcher {
  readonly #prefix: string;

  constructor(
    private readonly location: NatsLocation,
    private readonly name: string,
    /** Keep trying until a server answers (an agent), or fail at once (a command). */
    private readonly waitForServer = true,
  ) {
    super();
    this.#prefix = `airlock-nats://${location.repo}/`;
  }

  override async fetch(url: string): Promise<ReadableStream<Uint8Array<ArrayBuffer>>> {
    if (!url.startsWith(this.#prefix)) throw new DownloadHTTPError(`${url} is not in ${this.location.display}`, 404);
    const path = decodeURIComponent(url.slice(this.#prefix.length));
    const { meta, targets } = await sharedRepository(this.location, this.name, this.waitForServer);
    if (path.startsWith('metadata/')) {
      const key = path.slice('metadata/'.length);
      const entry = await meta.get(key).catch((error: unknown) => Promise.reject(natsFailure(this.location, `reading ${key}`, error)));
      if (entry === null || entry.operation !== 'PUT') throw new DownloadHTTPError(`${key} is not in ${this.location.display}`, 404);
      const bytes = entry.value;
      return new ReadableStream({
        start(controller) {
          controller.enqueue(new Uint8Array(bytes));
          controller.close();
        },
      });
    }
    if (path.startsWith('targets/')) {
      const name = path.slice('targets/'.length);
      const result = await targets.get(name).catch((error: unknown) => Promise.reject(natsFailure(this.location, `reading target ${name}`, error)));
      if (result === null) throw new DownloadHTTPError(`target ${name} is not in ${this.location.display}`, 404);
      // A chunk that does not come (a node gone mid-read) is NATS's failure, said as one.
      const reader = result.data.getReader();
      const { location } = this;
      return new ReadableStream<Uint8Array<ArrayBuffer>>({
        async pull(controller) {
          try {
            const { done, value } = await reader.read();
            if (done) controller.close();
            else controller.enqueue(new Uint8Array(value));
          } catch (error) {
            controller.error(natsFailure(location, `reading target ${name}`, error));
          }
        },
        cancel: (reason) => reader.cancel(reason),
      });
    }
    throw new DownloadHTTPError(`${url} is neither metadata nor a target`, 404);
  }
}
