import { readFileSync } from 'node:fs';
import { basename, dirname, join, relative, sep } from 'node:path';
import ignore, { type Ignore } from 'ignore';
import picomatch from 'picomatch';

/** Directories never worth watching: VCS metadata, dependencies, airlock's own state. */
export const IGNORED_DIRS = ['.git', '.hg', '.svn', 'node_modules', '.airlock'] as const;

/** Files editors write beside the real one while saving (vim, emacs, JetBrains, macOS). */
const EDITOR_TEMP = [
  /\.sw[a-p]$/,
  /\.swx$/,
  /~$/,
  /^\.#/,
  /^#.*#$/,
  /^4913$/,
  /\.tmp$/,
  /___jb_(tmp|old)___$/,
  /^\.DS_Store$/,
  /\.crswap$/,
];

export function isEditorTemp(path: string): boolean {
  const name = basename(path);
  return EDITOR_TEMP.some((pattern) => pattern.test(name));
}

export interface FilterOptions {
  readonly root: string;
  readonly include: readonly string[];
  readonly exclude: readonly string[];
  readonly gitignore: boolean;
  /**
   * Build inputs known some other way (a Go module graph's embedded files): they count
   * whatever the globs and .gitignore say; only `exclude` and editor files drop them.
   */
  readonly alsoMatches?: (path: string) => boolean;
}

/**
 * .gitignore files of the root and every directory below it, read on first use and
 * dropped when they change, so a tree of 100,000 files costs nothing up front.
 */
class GitignoreStack {
  readonly #byDir = new Map<string, Ignore | null>();
  constructor(private readonly root: string) {}

  #load(dir: string): Ignore | null {
    let rules = this.#byDir.get(dir);
    if (rules !== undefined) return rules;
    rules = null;
    const files = dir === '' ? ['.gitignore', join('.git', 'info', 'exclude')] : [join(dir, '.gitignore')];
    for (const file of files) {
      try {
        const text = readFileSync(join(this.root, file), 'utf8');
        rules = (rules ?? ignore()).add(text);
      } catch {
        // no such file
      }
    }
    this.#byDir.set(dir, rules);
    return rules;
  }

  /** rel is relative to the root; a trailing "/" asks about a directory. */
  ignores(rel: string): boolean {
    const isDir = rel.endsWith('/');
    const parts = rel.replace(/\/$/, '').split('/');
    if (isDir) parts[parts.length - 1] += '/';
    for (let depth = 0; depth < parts.length; depth++) {
      const dir = parts.slice(0, depth).join('/');
      const rules = this.#load(dir);
      if (rules?.ignores(parts.slice(depth).join('/'))) return true;
    }
    return false;
  }

  forget(rel: string): void {
    this.#byDir.delete(rel === '.gitignore' ? '' : dirname(rel));
  }
}

export interface PathFilter {
  /** Whether a change to this absolute path is a build input. */
  matches(path: string): boolean;
  /** Whether a directory can be skipped entirely (for walks). */
  skipsDir(path: string): boolean;
}

/**
 * @example
 *   const filter = createFilter({ root, include: ['**\/*.go'], exclude: ['tmp/**'], gitignore: true });
 *   filter.matches(join(root, 'main.go')); // true
 */
export function createFilter(options: FilterOptions): PathFilter {
  const include = picomatch([...options.include], { dot: true });
  const exclude = options.exclude.length > 0 ? picomatch([...options.exclude], { dot: true }) : () => false;
  const gitignore = options.gitignore ? new GitignoreStack(options.root) : undefined;
  const toRel = (path: string) => relative(options.root, path).split(sep).join('/');
  const inIgnoredDir = (rel: string) => rel.split('/').some((part) => (IGNORED_DIRS as readonly string[]).includes(part));

  return {
    matches(path) {
      const rel = toRel(path);
      if (rel === '' || rel.startsWith('..')) return false;
      if (basename(rel) === '.gitignore') gitignore?.forget(rel);
      if (inIgnoredDir(rel) || isEditorTemp(rel)) return false;
      if (exclude(rel)) return false;
      if (options.alsoMatches?.(path)) return true;
      if (!include(rel)) return false;
      return !(gitignore?.ignores(rel) ?? false);
    },
    skipsDir(path) {
      const rel = toRel(path);
      if (rel === '') return false;
      if (inIgnoredDir(rel)) return true;
      return exclude(rel) || exclude(`${rel}/`) || (gitignore?.ignores(`${rel}/`) ?? false);
    },
  };
}
