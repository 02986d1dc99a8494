import { parseDocument } from 'yaml';
import { AirlockError } from '../errors.js';
import type { AirImport } from './air-import.js';
import { formatMs } from './duration.js';
import { closest } from './suggest.js';

/** nodemon's own default extensions for a node script. */
const NODEMON_DEFAULT_EXT = ['js', 'mjs', 'cjs', 'json'];

/** Why keys without an equivalent are left out. */
const UNMAPPED: Readonly<Record<string, string>> = {
  verbose: 'output styling; airlock has --no-color, --quiet and --log-format',
  quiet: 'output styling; airlock has --no-color, --quiet and --log-format',
  colours: 'output styling; airlock has --no-color, --quiet and --log-format',
  restartable: 'airlock restarts on SIGHUP or `airlock restart`, not on typed input',
  events: 'nodemon event hooks; airlock reports its events with --log-format json and on the control socket (/events)',
  execMap: 'write the command for your script in run.cmd',
  stdin: 'airlock does not pass its standard input to the service',
  runOnChangeOnly: 'airlock always starts the service at once',
  ignoreRoot: 'airlock never watches .git, node_modules or .airlock, and honours .gitignore',
  spawn: 'airlock always runs the service as its own process group',
  dump: 'use `airlock validate` to see the configuration',
  watchOptions: 'airlock uses native file events with its own settings (docs/watching.md)',
};

const MAPPED = ['watch', 'ext', 'ignore', 'exec', 'script', 'args', 'nodeArgs', 'delay', 'signal', 'env', 'cwd', 'legacyWatch', 'pollingInterval'];

/** nodemon polls (legacyWatch) every pollingInterval ms, 100 unless it says otherwise. */
const NODEMON_POLLING_MS = 100;

type Json = Record<string, unknown>;
const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);
const list = (value: unknown): string[] =>
  Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : typeof value === 'string' ? [value] : [];
const trimDot = (path: string) => (path === '.' || path === './' ? '' : path.replace(/^\.\//, '').replace(/\/$/, ''));

/** nodemon's delay: a number of milliseconds in its config; a string is seconds ("2.5") unless it says ms. */
function delayMs(value: unknown): number | undefined {
  if (typeof value === 'number') return value;
  if (typeof value !== 'string') return undefined;
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms)?\s*$/.exec(value);
  if (!match) return undefined;
  return match[2] === 'ms' ? Number(match[1]) : Math.round(Number(match[1]) * 1_000);
}

/** The JSON, or an error naming the file, line and column (JSON.parse says neither on Node 20). */
function parseJson(source: string, fileName: string): unknown {
  try {
    return JSON.parse(source) as unknown;
  } catch (error) {
    const where = parseDocument(source, { schema: 'json' }).errors[0]?.linePos?.[0];
    const at = where ? `${fileName}:${where.line}:${where.col}` : fileName;
    throw new AirlockError('NODEMON_PARSE', `${at}: ${(error as Error).message.split('\n')[0]}`, { cause: error });
  }
}

/**
 * Converts a nodemon config (nodemon.json, or package.json's "nodemonConfig") into
 * airlock service settings, listing each key without an airlock equivalent so nothing is
 * dropped silently: the same shape as the .air.toml import.
 *
 * @example
 *   importNodemon('{"watch":["src"],"ext":"ts","exec":"tsx src/server.ts"}');
 *   // { service: { run: { cmd: 'tsx src/server.ts' }, watch: { include: ['src/**\/*.ts'], exclude: [] } }, unmapped: [], notes: [] }
 */
export function importNodemon(source: string, fileName = 'nodemon.json'): AirImport {
  const parsed = parseJson(source, fileName);
  const config = fileName.endsWith('package.json') ? (isObject(parsed) ? parsed.nodemonConfig : undefined) : parsed;
  if (fileName.endsWith('package.json') && config === undefined) {
    throw new AirlockError('NODEMON_PARSE', `${fileName} has no "nodemonConfig" to import`);
  }
  if (!isObject(config)) throw new AirlockError('NODEMON_PARSE', `${fileName}: expected a JSON object of nodemon settings`);
  const unmapped: string[] = [];
  const service: Json = {};

  if (typeof config.cwd === 'string' && trimDot(config.cwd) !== '') service.dir = config.cwd;
  const script = typeof config.script === 'string' ? config.script : undefined;
  const args = list(config.args);
  const exec = typeof config.exec === 'string' ? config.exec : undefined;
  const cmd = exec !== undefined ? [exec, ...(script ? [script] : []), ...args] : script !== undefined ? ['node', ...list(config.nodeArgs), script, ...args] : [];
  const env = isObject(config.env) ? Object.fromEntries(Object.entries(config.env).map(([key, value]) => [key, String(value)])) : undefined;
  if (cmd.length > 0 || env !== undefined) service.run = { ...(cmd.length > 0 ? { cmd: cmd.join(' ') } : {}), ...(env ? { env } : {}) };

  const exts = typeof config.ext === 'string' ? config.ext.split(/[\s,]+/).map((ext) => ext.replace(/^\./, '')).filter(Boolean) : NODEMON_DEFAULT_EXT;
  const extGlob = exts.length === 1 ? `*.${exts[0]}` : `*.{${exts.join(',')}}`;
  const watched = list(config.watch).map(trimDot);
  // A watched entry with an extension or a glob is a file (or a pattern); anything else a directory.
  const include = watched.length === 0 || watched.includes('') ? [`**/${extGlob}`] : watched.map((entry) => (/[*?{]|\.\w+$/.test(entry) ? entry : `${entry}/**/${extGlob}`));
  const exclude = list(config.ignore).map((entry) => (entry.endsWith('/') ? `${trimDot(entry)}/**` : trimDot(entry)));
  const watch: Json = { include, exclude };
  const delay = delayMs(config.delay);
  if (delay !== undefined) watch.debounce = formatMs(delay);
  if (config.legacyWatch === true) watch.poll = formatMs(typeof config.pollingInterval === 'number' && config.pollingInterval > 0 ? config.pollingInterval : NODEMON_POLLING_MS);
  service.watch = watch;
  if (typeof config.signal === 'string') service.stop = { signal: config.signal };

  const known = [...MAPPED, ...Object.keys(UNMAPPED)];
  for (const key of Object.keys(config)) {
    if (MAPPED.includes(key)) continue;
    const reason = UNMAPPED[key];
    if (reason !== undefined) unmapped.push(`${key}: ${reason}`);
    else {
      const meant = closest(key, known);
      unmapped.push(`${key}: not a nodemon key${meant ? `; did you mean ${meant}? (fix it in ${fileName} and convert again)` : ''}`);
    }
  }
  return { service, unmapped, notes: [] };
}
