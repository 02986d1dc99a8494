import { copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { writeAtomic } from '../atomic-file.js';

interface Marks {
  /** Build identity → why it was rolled back. */
  readonly bad: Record<string, string>;
  /** A copy of the artifact of the stable generation the last aborted rollout went back to. */
  readonly lastGood?: string;
  /** The rollout under way: its canary's build, and a copy of the stable generation's artifact. */
  readonly inProgress?: { readonly canary: string; readonly stable: string; readonly stableN: number };
}

/**
 * The builds a service's rollouts aborted, kept in `file` (temp, fsync, rename) so that a
 * restart never serves what was rolled back, with the artifact the rollout went back to.
 * Only content identities (sha256:… of an artifact, sources:sha256:… of a service's
 * sources) are kept across restarts.
 *
 * @example
 *   const marks = new BadBuilds('.airlock/rollout/api.json', (why) => bus.emit(...));
 *   marks.mark('sha256:9f…', "g5's rollout was aborted: error rate …", 'bin/api.g4');
 */
export class BadBuilds {
  readonly #bad: Map<string, string>;
  #lastGood: string | undefined;
  #inProgress: Marks['inProgress'];

  constructor(
    private readonly file: string,
    private readonly say: (message: string) => void,
  ) {
    const marks = this.#read();
    this.#bad = new Map(Object.entries(marks.bad));
    this.#lastGood = marks.lastGood;
    this.#inProgress = marks.inProgress;
  }

  /** The rollout that was under way when airlock stopped (its stable artifact still there), if any. */
  get inProgress(): Marks['inProgress'] {
    return this.#inProgress !== undefined && existsSync(this.#inProgress.stable) ? this.#inProgress : undefined;
  }

  /** A rollout began: kept on disk with a copy of the stable artifact, so a restart can go back to it. */
  began(canary: string, stableArtifact: string | undefined, stableN: number): void {
    if (stableArtifact === undefined || !existsSync(stableArtifact)) return this.ended();
    const stable = `${this.file}.stable`;
    this.#save(() => {
      copyFileSync(stableArtifact, stable);
      this.#inProgress = { canary, stable, stableN };
    });
  }

  /** The rollout is over (promoted, or replaced by taking over at once): nothing to go back to after a restart. */
  ended(): void {
    if (this.#inProgress === undefined) return;
    this.#save(() => (this.#inProgress = undefined));
  }

  get size(): number {
    return this.#bad.size;
  }

  /** Why a build was rolled back, if it was. */
  get(identity: string): string | undefined {
    return this.#bad.get(identity);
  }

  /** The stable artifact the last aborted rollout went back to, if it is still there. */
  get lastGood(): string | undefined {
    return this.#lastGood !== undefined && existsSync(this.#lastGood) ? this.#lastGood : undefined;
  }

  /** Marks a build bad; `lastGood`, the artifact the rollout went back to, is copied beside the file (the store reuses generation numbers after a restart). */
  mark(identity: string, why: string, lastGood: string | undefined): void {
    this.#bad.set(identity, why);
    this.#save(() => {
      this.#inProgress = undefined;
      if (lastGood !== undefined && existsSync(lastGood)) {
        const kept = `${this.file}.last-good`;
        copyFileSync(lastGood, kept);
        this.#lastGood = kept;
      }
    });
  }

  /** Applies a change and writes the file (temp, fsync, rename); a failure is said, and the change holds until airlock stops. */
  #save(change: () => void): void {
    try {
      mkdirSync(dirname(this.file), { recursive: true });
      change();
      const bad = Object.fromEntries([...this.#bad].filter(([id]) => id.startsWith('sha256:') || id.startsWith('sources:sha256:')));
      const marks: Marks = { bad, ...(this.#lastGood ? { lastGood: this.#lastGood } : {}), ...(this.#inProgress ? { inProgress: this.#inProgress } : {}) };
      writeAtomic(this.file, `${JSON.stringify(marks, null, 1)}\n`);
    } catch (error) {
      this.say(`could not record the rollout's state in ${this.file}: ${(error as Error).message}; it holds until airlock stops`);
    }
  }

  #read(): Marks {
    try {
      return existsSync(this.file) ? { bad: {}, ...(JSON.parse(readFileSync(this.file, 'utf8')) as Partial<Marks>) } : { bad: {} };
    } catch {
      // A damaged file forgets nothing silently: it is said, and kept for a look.
      this.say(`${this.file} could not be read; bad-build marks from before this start are not known`);
      return { bad: {} };
    }
  }
}
