import { createHash } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

const SETTLE_MS = 50;

async function digest(path: string): Promise<string> {
  try {
    return createHash('sha1').update(await readFile(path)).digest('hex');
  } catch {
    return 'absent';
  }
}

/**
 * Watches a service's env files and calls onChange when one's content changed. It
 * watches their directories, not the files: editors that save by writing a temp file and
 * renaming it over the original replace the inode, and a watch on the file goes silent.
 *
 * @example
 *   const env = new EnvFileWatcher(plan.run.envFiles, (file) => service.restartWithNewEnvironment(file));
 *   await env.start();
 */
export class EnvFileWatcher {
  readonly #watchers: FSWatcher[] = [];
  readonly #digests = new Map<string, string>();
  readonly #timers = new Map<string, NodeJS.Timeout>();

  constructor(
    private readonly files: readonly string[],
    private readonly onChange: (file: string) => void,
  ) {}

  /** Also for app config files and schemas: any file whose saved content matters. */

  async start(): Promise<void> {
    for (const file of this.files) this.#digests.set(file, await digest(file));
    for (const dir of new Set(this.files.map((file) => dirname(file)))) {
      const watcher = watch(dir, (_event, name) => {
        const file = name === null ? undefined : join(dir, name.toString());
        if (file !== undefined && this.files.includes(file)) this.#settle(file);
      });
      watcher.on('error', () => undefined);
      this.#watchers.push(watcher);
    }
  }

  /** A burst of writes (truncate, write, rename) is read once, after it settled. */
  #settle(file: string): void {
    clearTimeout(this.#timers.get(file));
    this.#timers.set(
      file,
      setTimeout(async () => {
        this.#timers.delete(file);
        const now = await digest(file);
        if (now === this.#digests.get(file)) return;
        this.#digests.set(file, now);
        this.onChange(basename(file));
      }, SETTLE_MS),
    );
  }

  stop(): void {
    for (const timer of this.#timers.values()) clearTimeout(timer);
    for (const watcher of this.#watchers) watcher.close();
  }
}
