import { parse as parseToml, TomlError } from 'smol-toml';
import { AirlockError } from '../errors.js';
import { formatMs } from './duration.js';
import { closest } from './suggest.js';
import { escapeRegExp } from './literal.js';

/**
 * Converts an air (.air.toml) config into airlock service settings, and says which of
 * its keys have no airlock equivalent so nothing is dropped silently.
 */
export interface AirImport {
  /** The service entry for airlock.yaml. */
  readonly service: Record<string, unknown>;
  /** "build.poll: airlock uses native file events" — one line per key not mapped. */
  readonly unmapped: readonly string[];
  /** Keys mapped with a behaviour change worth knowing. */
  readonly notes: readonly string[];
}

type Table = Record<string, unknown>;

const isTable = (value: unknown): value is Table => typeof value === 'object' && value !== null && !Array.isArray(value);
const strings = (value: unknown): string[] => (Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : []);
const text = (value: unknown): string | undefined => (typeof value === 'string' && value.trim() !== '' ? value : undefined);
const trimDot = (path: string) => path.replace(/^\.\//, '').replace(/\/$/, '');

/** Why keys without an equivalent are left out. */
const UNMAPPED: Readonly<Record<string, string>> = {
  'build.post_cmd': 'runs when air exits; airlock has no exit hook (run it after airlock yourself)',
  'build.rerun': 'airlock restarts a crashed service with backoff and waits for a change after a clean exit',
  'build.rerun_delay': 'see build.rerun',
  'build.follow_symlink': 'symlinked directories are not followed',
  'build.log': 'build output is shown with the service prefix; use --log-format json to keep it',
  'build.stop_on_error': 'always on in airlock: a failed build never stops or restarts the running version',
  'build.exclude_unchanged': 'always on in airlock: changes whose content hashes the same start nothing',
  testdata_dir: 'mapped to watch.exclude',
  tmp_dir: 'mapped to watch.exclude',
};

const COSMETIC_TABLES = ['color', 'log', 'screen'];

/** air's own defaults, used when its config leaves a key out. */
const AIR_DEFAULT_EXT = ['go', 'tpl', 'tmpl', 'html'];

/** A regex from exclude_regex that is only a literal (like "_test.go") becomes a glob. */
function regexAsGlob(pattern: string): string | undefined {
  const literal = pattern.replace(/\\\./g, '.').replace(/\$$/, '');
  if (/[\\^$.*+?()[\]{}|]/.test(literal.replace(/\./g, ''))) return undefined;
  return pattern.endsWith('$') ? `**/*${literal}` : `**/*${literal}*`;
}

function kill(value: unknown): number | undefined {
  // air takes kill_delay as a Go duration string ("500ms") or an integer: nanoseconds, but
  // one under a millisecond is taken as milliseconds (its killDelay), so 500 means 500ms.
  if (typeof value === 'number') return value < 1e6 ? Math.round(value) : Math.round(value / 1e6);
  if (typeof value !== 'string') return undefined;
  let total = 0;
  const units: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1e3, m: 6e4, h: 3.6e6 };
  const parts = [...value.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)];
  if (parts.length === 0) return undefined;
  for (const [, amount, unit] of parts) total += Number(amount) * (units[unit as string] ?? 0);
  return Math.round(total);
}

export function importAir(source: string, fileName = '.air.toml'): AirImport {
  let doc: Table;
  try {
    doc = parseToml(source) as Table;
  } catch (error) {
    const where = error instanceof TomlError ? `${fileName}:${error.line}:${error.column}` : fileName;
    throw new AirlockError('AIR_PARSE', `${where}: ${(error as Error).message.split('\n')[0]}`, { cause: error });
  }
  const build = isTable(doc.build) ? doc.build : {};
  const unmapped: string[] = [];
  const notes: string[] = [];
  const service: Record<string, unknown> = {};
  const handled = new Set(['root', 'tmp_dir', 'testdata_dir', 'env_files', 'build', 'proxy', 'misc', ...COSMETIC_TABLES]);

  const root = text(doc.root);
  if (root !== undefined && trimDot(root) !== '') service.dir = root;

  // Build: pre_cmd joins the build; the bin path becomes {artifact} so the running binary is never overwritten.
  const bin = text(build.bin) ?? text(build.entrypoint);
  // "tmp/main" and "./tmp/main" name one file: either spelling in cmd, bin or full_bin is {artifact}.
  const binPath = bin === undefined ? undefined : new RegExp(`(?<![\\w./-])(?:\\./)?${escapeRegExp(trimDot(bin))}(?![\\w./-])`, 'g');
  let buildCmd = text(build.cmd);
  const pre = strings(build.pre_cmd);
  if (buildCmd !== undefined) {
    if (binPath !== undefined) buildCmd = buildCmd.replace(binPath, '{artifact}');
    service.build = { cmd: [...pre, buildCmd].join(' && ') };
  }
  const full = text(build.full_bin);
  const runFrom = (path: string) => (buildCmd?.includes('{artifact}') && binPath !== undefined ? path.replace(binPath, '{artifact}') : path);
  const args = strings(build.args_bin);
  if (full !== undefined) service.run = { cmd: runFrom(full) };
  else if (bin !== undefined) service.run = { cmd: [runFrom(bin), ...args].join(' ') };
  if (full !== undefined && args.length > 0) (service.run as Table).cmd = `${runFrom(full)} ${args.join(' ')}`;

  const envFiles = [...strings(doc.env_files), ...strings(build.env_files)];
  if (envFiles.length > 0) service.run = { ...(service.run as Table), envFile: envFiles.length === 1 ? envFiles[0] : envFiles };

  // Watch: include_ext within include_dir (or everywhere), plus include_file.
  const exts = Array.isArray(build.include_ext) ? strings(build.include_ext) : AIR_DEFAULT_EXT;
  const dirs = strings(build.include_dir).map(trimDot);
  const extGlob = exts.length === 0 ? '*' : exts.length === 1 ? `*.${exts[0]}` : `*.{${exts.join(',')}}`;
  const include = (dirs.length > 0 ? dirs.map((dir) => `${dir}/**/${extGlob}`) : [`**/${extGlob}`]).concat(strings(build.include_file).map(trimDot));
  const exclude = [
    ...strings(build.exclude_dir).map((dir) => `${trimDot(dir)}/**`),
    ...strings(build.exclude_file).map(trimDot),
  ];
  for (const dir of [text(doc.tmp_dir), text(doc.testdata_dir)]) {
    if (dir !== undefined && !exclude.includes(`${trimDot(dir)}/**`)) exclude.push(`${trimDot(dir)}/**`);
  }
  for (const pattern of strings(build.exclude_regex)) {
    const glob = regexAsGlob(pattern);
    if (glob) exclude.push(glob);
    else unmapped.push(`build.exclude_regex "${pattern}": not a plain literal; write it as a glob in watch.exclude`);
  }
  const watch: Table = { include, exclude };
  if (typeof build.delay === 'number') watch.debounce = formatMs(build.delay);
  // air polls every poll_interval ms (its default, 500, when unset or 0).
  if (build.poll === true) watch.poll = formatMs(typeof build.poll_interval === 'number' && build.poll_interval > 0 ? build.poll_interval : 500);
  service.watch = watch;

  const stop: Table = { signal: build.send_interrupt === true ? 'SIGINT' : 'SIGTERM' };
  if (build.send_interrupt === false) notes.push('build.send_interrupt = false: air sends SIGKILL; airlock sends SIGTERM, then SIGKILL after stop.timeout');
  const killMs = kill(build.kill_delay);
  if (killMs !== undefined && killMs > 0) stop.timeout = formatMs(killMs);
  service.stop = stop;

  const mapped = new Set(['cmd', 'bin', 'entrypoint', 'full_bin', 'args_bin', 'pre_cmd', 'env_files', 'include_ext', 'include_dir', 'include_file', 'exclude_dir', 'exclude_file', 'exclude_regex', 'delay', 'kill_delay', 'send_interrupt', 'poll', 'poll_interval']);
  const airKeys = [...mapped, ...Object.keys(UNMAPPED).filter((key) => key.startsWith('build.')).map((key) => key.slice('build.'.length))];
  for (const key of Object.keys(build)) {
    if (mapped.has(key)) continue;
    const reason = UNMAPPED[`build.${key}`];
    if (reason?.startsWith('always on')) notes.push(`build.${key}: ${reason}`);
    else if (reason !== undefined) unmapped.push(`build.${key}: ${reason}`);
    else {
      // A misspelt key means the intended one was not set either: say which it was.
      const meant = closest(key, airKeys);
      unmapped.push(`build.${key}: not an air key${meant ? `; did you mean build.${meant}? (fix it in ${fileName} and convert again)` : ''}`);
    }
  }
  if (isTable(doc.proxy) && doc.proxy.enabled === true) {
    unmapped.push('proxy: air\'s browser reload proxy; in airlock: listen (the app serves $PORT) with handoff: proxy and proxy: { liveReload: true } (docs/ui.md)');
  }
  for (const table of COSMETIC_TABLES) {
    if (isTable(doc[table])) for (const key of Object.keys(doc[table])) unmapped.push(`${table}.${key}: output styling; airlock has --no-color, --quiet and --log-format`);
  }
  if (isTable(doc.misc)) {
    for (const key of Object.keys(doc.misc)) {
      // air's tmp_dir is no longer written: airlock's builds live in .airlock/, pruned as it runs, and nothing outlives airlock.
      if (key === 'clean_on_exit') notes.push('misc.clean_on_exit: always on in airlock: builds live in .airlock/bin (old ones pruned as it runs) and every process ends with airlock');
      else unmapped.push(`misc.${key}: airlock keeps only its own state, in .airlock/, and prunes old artifacts itself`);
    }
  }
  for (const key of Object.keys(doc)) if (!handled.has(key)) unmapped.push(`${key}: not known to airlock`);
  return { service, unmapped, notes };
}
