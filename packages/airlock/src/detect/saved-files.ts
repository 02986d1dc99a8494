import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { filesWatcherFor } from '../watch/factory.js';

const SETTLE_MS = 50;

/**
 * The content's hash, or undefined while the file is missing or empty: an empty file is
 * almost always one caught between truncate and write, and starting a generation (or
 * reporting an error) for it would be wrong either way.
 */
async function digest(path: string): Promise<string | undefined> {
  try {
    const content = await readFile(path);
    return content.length === 0 ? undefined : createHash('sha1').update(content).digest('hex');
  } catch {
    return undefined;
  }
}

/**
 * Watches files whose saved content matters (env files, app config files and schemas,
 * airlock.yaml) and calls onChange when one's content changed, with the watcher the
 * service's settings choose (watch/factory.ts: native, or polling). A missing
 * or empty file is no change: an editor that keeps a backup renames the original away
 * before it writes the new one, a slow writer truncates before it writes, and the last
 * content stays in force until the file is back.
 *
 * @example
 *   const env = new SavedFileWatcher(plan.run.envFiles, (file) => service.restartSameBuild(`${file} changed`), plan.watch);
 *   await env.start();
 */
export class SavedFileWatcher {
  #watching: { close(): void } | undefined;
  readonly #digests = new Map<string, string | undefined>();
  readonly #timers = new Map<string, NodeJS.Timeout>();

  constructor(
    private readonly files: readonly string[],
    private readonly onChange: (file: string) => void,
    /** The service's watch settings: `pollMs` (watch.poll) polls instead of native events. */
    private readonly settings: { readonly pollMs?: number } = {},
  ) {}

  async start(): Promise<void> {
    for (const file of this.files) this.#digests.set(file, await digest(file));
    this.#watching = filesWatcherFor(this.settings)(this.files, (file) => this.#settle(file));
  }

  /** A burst of writes (truncate, write, rename) is read once, after it settled. */
  #settle(file: string): void {
    clearTimeout(this.#timers.get(file));
    this.#timers.set(
      file,
      setTimeout(async () => {
        this.#timers.delete(file);
        const now = await digest(file);
        if (now === undefined || now === this.#digests.get(file)) return;
        this.#digests.set(file, now);
        this.onChange(basename(file));
      }, SETTLE_MS),
    );
  }

  stop(): void {
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#watching?.close();
  }
}
