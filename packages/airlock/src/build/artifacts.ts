import { mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/**
 * Build outputs per generation: the build writes `<base>.build`, a good build is renamed
 * to `<base>.g<N>`, and only the running and the previous artifacts are kept, so a bad
 * generation can be replaced by the previous one without a rebuild. Renaming never
 * disturbs a running binary (its inode stays), unlike building over it in place.
 */
export class ArtifactStore {
  constructor(private readonly base: string) {
    mkdirSync(dirname(base), { recursive: true });
  }

  /** Where the next build writes ({artifact} in the build command). */
  get buildPath(): string {
    return `${this.base}.build`;
  }

  /** Moves the fresh build into place as generation n's artifact and prunes all but `keep`. */
  commit(generation: number, keep: readonly string[]): string {
    const path = `${this.base}.g${generation}`;
    renameSync(this.buildPath, path);
    const prefix = `${basename(this.base)}.g`;
    for (const name of readdirSync(dirname(this.base))) {
      const file = join(dirname(this.base), name);
      if (name.startsWith(prefix) && file !== path && !keep.includes(file)) rmSync(file, { force: true });
    }
    return path;
  }
}
