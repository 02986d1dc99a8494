import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { NOTHING, parsePermissions, type Permissions } from './permissions.js';
import { checkRange, parseVersion, satisfies } from './semver.js';

/** What airlock writes into a plugin directory it installed from a signed channel (release/plugin-channel.ts). */
export const REMOTE_MARKER = '.airlock-release.json';

/**
 * How a plugin runs: a worker thread (default; real unload, memory limits, a crash stays
 * inside), a child process (for code that must not share the host's process at all), or
 * inline (the host's thread, for trusted CommonJS code: the fastest calls, through a
 * module registry per version that is dropped at unload).
 */
export type Isolation = 'worker' | 'process' | 'inline';

/** plugin.json, checked before any plugin code runs. */
export interface Manifest {
  readonly name: string;
  readonly version: string;
  /** The module to load, relative to the plugin's directory. */
  readonly main: string;
  /** A semver range the host's plugin API version must satisfy. */
  readonly host: string;
  readonly isolation: Isolation;
  /** Config handed to init(ctx) as ctx.config. */
  readonly config: Readonly<Record<string, unknown>>;
  /** What it may do in its sandbox (process isolation only); undefined: not sandboxed. */
  readonly permissions?: Permissions;
}

/** A manifest that cannot be used: the file, the field, what was expected. */
export class ManifestError extends Error {
  constructor(
    readonly file: string,
    message: string,
    /** There is no plugin.json at all (yet: a directory is often made before its files). */
    readonly missing = false,
  ) {
    super(`${file}: ${message}`);
    this.name = 'ManifestError';
  }
}

const NAME = /^[a-z0-9][a-z0-9._-]*$/;
const NO_MANIFEST = 'no plugin.json: a plugin directory needs one with name, version, main and host';
const KNOWN = new Set(['name', 'version', 'main', 'host', 'isolation', 'config', 'description', 'permissions']);

/**
 * Reads and checks `<dir>/plugin.json` against the host's plugin API version. Unknown
 * keys are errors, like everywhere in airlock; `main` must stay inside the directory, and
 * the directory inside `root` (the plugins directory), both checked on real paths.
 *
 * @example
 *   const manifest = readManifest('plugins/greet', '1.0.0');
 *   // { name: 'greet', version: '1.2.0', main: 'index.js', host: '^1', isolation: 'worker', config: {} }
 */
export function readManifest(dir: string, hostVersion: string, root?: string): Manifest {
  const file = join(dir, 'plugin.json');
  if (!existsSync(file)) throw new ManifestError(file, NO_MANIFEST, true);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    // Gone between the two looks (a rename under way): as missing as before.
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new ManifestError(file, NO_MANIFEST, true);
    throw new ManifestError(file, `not valid JSON: ${(error as Error).message}`);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new ManifestError(file, 'expected a JSON object');
  const m = raw as Record<string, unknown>;
  for (const key of Object.keys(m)) if (!KNOWN.has(key)) throw new ManifestError(file, `unknown key "${key}"; allowed: ${[...KNOWN].join(', ')}`);
  const text = (key: string): string => {
    const value = m[key];
    if (typeof value !== 'string' || value === '') throw new ManifestError(file, `"${key}" must be a non-empty string, got ${JSON.stringify(value)}`);
    return value;
  };
  const name = text('name');
  if (!NAME.test(name)) throw new ManifestError(file, `"name" ${JSON.stringify(name)}: use lower-case letters, digits, ".", "-" and "_"`);
  const version = text('version');
  if (parseVersion(version) === undefined) throw new ManifestError(file, `"version" ${JSON.stringify(version)} is not MAJOR.MINOR.PATCH`);
  const main = text('main');
  const mainPath = resolve(dir, main);
  if (!inside(resolve(dir), mainPath)) throw new ManifestError(file, `"main" ${JSON.stringify(main)} points outside the plugin directory`);
  // Checked on real paths: a link must not lead out of the directory (or the directory out of the plugins directory).
  const realDir = realpathSync(dir);
  if (root !== undefined && !inside(realpathSync(root), realDir)) {
    throw new ManifestError(file, `the plugin directory is a link to ${realDir}, outside ${root}: copy the plugin in instead`);
  }
  if (existsSync(mainPath) && !inside(realDir, realpathSync(mainPath))) {
    throw new ManifestError(file, `"main" ${JSON.stringify(main)} leads outside the plugin directory (to ${realpathSync(mainPath)}): a link may not take code from elsewhere`);
  }
  const host = text('host');
  const bad = checkRange(host);
  if (bad) throw new ManifestError(file, `"host": ${bad}`);
  if (!satisfies(hostVersion, host)) throw new ManifestError(file, `"host" ${JSON.stringify(host)} does not accept this host's plugin API ${hostVersion}: the plugin needs another host version`);
  // Permissions are enforced on a process (Node's permission model inside a bubblewrap
  // sandbox): a plugin that has them runs in one, and says so or is refused. A plugin that
  // came from a channel (airlock wrote its marker) always does, with nothing granted by default.
  const remote = existsSync(join(dir, REMOTE_MARKER));
  const sandboxed = m.permissions !== undefined || remote;
  const isolation = m.isolation ?? (sandboxed ? 'process' : 'worker');
  if (isolation !== 'worker' && isolation !== 'process' && isolation !== 'inline') throw new ManifestError(file, `"isolation" ${JSON.stringify(isolation)}: expected "worker" (default), "process" or "inline"`);
  let permissions: Permissions | undefined = remote ? NOTHING : undefined;
  if (sandboxed && isolation !== 'process') {
    const why = remote ? 'a plugin from a release channel runs sandboxed' : 'a thread shares the host\'s process and rights';
    throw new ManifestError(file, `"isolation" ${JSON.stringify(isolation)} cannot enforce "permissions" (${why}): use "process", or leave isolation out`);
  }
  if (m.permissions !== undefined) {
    try {
      permissions = parsePermissions(m.permissions, process.cwd());
    } catch (error) {
      throw new ManifestError(file, (error as Error).message);
    }
  }
  const config = m.config ?? {};
  if (config === null || typeof config !== 'object' || Array.isArray(config)) throw new ManifestError(file, '"config" must be an object');
  return { name, version, main, host, isolation, config: config as Record<string, unknown>, ...(permissions === undefined ? {} : { permissions }) };
}

/** Whether `path` is `dir` or below it. */
function inside(dir: string, path: string): boolean {
  const rel = relative(dir, path);
  return rel === '' || (rel.split(sep)[0] !== '..' && !isAbsolute(rel));
}
