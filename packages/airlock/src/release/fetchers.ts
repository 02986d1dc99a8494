import { createReadStream, statSync } from 'node:fs';
import { Readable } from 'node:stream';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { BaseFetcher, type Fetcher } from 'tuf-js';
// tuf-js tells "no newer root" from a 404 by this class (its index does not export it).
import { DownloadHTTPError } from 'tuf-js/dist/error.js';
import { parseLocation } from '../config/release-location.js';
import { NatsFetcher, natsBaseUrls } from './nats/fetcher.js';

/**
 * tuf-js's fetcher for a repository in a directory (file: URLs): a missing file is a 404,
 * as over HTTP, so the root rotation walk ends where it should. What it reads is checked
 * by tuf-js like anything downloaded (the transport is never trusted).
 */
class DirFetcher extends BaseFetcher {
  override async fetch(url: string): Promise<ReadableStream<Uint8Array<ArrayBuffer>>> {
    const path = fileURLToPath(url);
    try {
      if (!statSync(path).isFile()) throw new DownloadHTTPError(`${path} is not a file`, 404);
    } catch (error) {
      if (error instanceof DownloadHTTPError) throw error;
      throw new DownloadHTTPError(`${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`, 404);
    }
    return Readable.toWeb(createReadStream(path)) as unknown as ReadableStream<Uint8Array<ArrayBuffer>>;
  }
}

/** Where a repository is (a directory, an http(s) URL, nats://): its metadata and targets base URLs and the fetcher for them. */
export function locate(from: string, waitForServer = true): { metadataBaseUrl: string; targetBaseUrl: string; fetcher: Fetcher | undefined } {
  const location = parseLocation(from);
  if (location.kind === 'nats') return { ...natsBaseUrls(location), fetcher: new NatsFetcher(location, 'airlock', waitForServer) };
  if (location.kind === 'http') {
    const base = from.endsWith('/') ? from : `${from}/`;
    // undefined: tuf-js's own fetcher (timeouts, retries of 5xx).
    return { metadataBaseUrl: `${base}metadata/`, targetBaseUrl: `${base}targets/`, fetcher: undefined };
  }
  const base = pathToFileURL(from.endsWith('/') ? from : `${from}/`).href;
  return { metadataBaseUrl: `${base}metadata/`, targetBaseUrl: `${base}targets/`, fetcher: new DirFetcher() };
}
