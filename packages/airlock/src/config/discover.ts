import { existsSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { AirlockError } from '../errors.js';
import { loadConfigFile, validateConfig, type LoadedConfig } from './load.js';
import { formatProblem } from './problems.js';
import { findGoModule, findMainPackages, goModuleName } from './presets/go.js';
import { readPackageJson } from './presets/node.js';
import type { ConfigInput } from './schema.js';

/** Flags that describe one service without a config file (docs/cli.md, "Flags that describe one service without a file"). */
export interface ServiceFlags {
  readonly build?: string;
  readonly run?: string;
  readonly watch?: readonly string[];
  readonly listen?: string;
  readonly handoff?: string;
  readonly debounce?: string;
  readonly stopSignal?: string;
  readonly stopTimeout?: string;
}

export const CONFIG_NAMES = ['airlock.yaml', 'airlock.yml'];

/** Which flag sets which config path, so a bad value is reported against the flag. */
const FLAG_OF: Readonly<Record<string, string>> = {
  build: '--build',
  'build.cmd': '--build',
  run: '--run',
  'run.cmd': '--run',
  watch: '--watch',
  'watch.include': '--watch',
  'watch.debounce': '--debounce',
  listen: '--listen',
  handoff: '--handoff',
  'stop.signal': '--stop-signal',
  'stop.timeout': '--stop-timeout',
};

export function serviceName(text: string): string {
  const name = text.toLowerCase().replace(/^@[^/]+\//, '').replace(/[^a-z0-9_-]+/g, '-').replace(/^[^a-z]+/, '');
  return name || 'app';
}

/** The services a project offers with no config: Go main packages, or a Node start script. */
export function detectServices(dir: string): Record<string, NonNullable<ConfigInput['services']>[string]> {
  if (findGoModule(dir) === dir) {
    const mains = findMainPackages(dir);
    if (mains.length > 0) return Object.fromEntries(mainNames(dir, mains).map(([name, main]) => [name, { go: { main } }]));
  }
  const pkg = readPackageJson(dir);
  if (pkg?.scripts.start !== undefined) return { [serviceName(pkg.name ?? basename(dir))]: { node: {} } };
  return {};
}

/**
 * A service name per main package: the module's name for the root (or a lone `./cmd`),
 * else the directory's name, with its parent's in front where two would be the same.
 */
function mainNames(dir: string, mains: readonly string[]): [string, string][] {
  const moduleName = goModuleName(dir) ?? basename(dir);
  const short = (main: string) => (main === '.' || (main === './cmd' && !mains.includes('.')) ? moduleName : basename(main));
  const counts = new Map<string, number>();
  for (const main of mains) counts.set(short(main), (counts.get(short(main)) ?? 0) + 1);
  return mains.map((main) => {
    const name = short(main);
    return [serviceName((counts.get(name) ?? 0) > 1 ? `${basename(dirname(main))}-${name}` : name), main];
  });
}

/**
 * A package.json without a "start" script is the common near miss: say how to run it anyway.
 *
 * @example
 *   noStartScript('/app'); // ['package.json has no "start" script: add one, or run `airlock dev --run "node server.js"`']
 */
export function noStartScript(dir: string): string[] {
  const pkg = readPackageJson(dir);
  if (pkg === undefined || pkg.scripts.start !== undefined) return [];
  const main = pkg.main ?? 'server.js';
  return [`package.json has no "start" script: add one ("start": "node ${main}"), or run \`airlock dev --run "node ${main}"\``];
}

function hasFlags(flags: ServiceFlags): boolean {
  return Object.values(flags).some((value) => value !== undefined && !(Array.isArray(value) && value.length === 0));
}

function applyFlags(service: Record<string, unknown>, flags: ServiceFlags): Record<string, unknown> {
  const result: Record<string, unknown> = { ...service };
  if (flags.build !== undefined) result.build = { cmd: flags.build };
  if (flags.run !== undefined) result.run = { cmd: flags.run };
  const watch: Record<string, unknown> = {};
  if (flags.watch && flags.watch.length > 0) watch.include = [...flags.watch];
  if (flags.debounce !== undefined) watch.debounce = flags.debounce;
  if (Object.keys(watch).length > 0) result.watch = watch;
  if (flags.listen !== undefined) result.listen = flags.listen;
  if (flags.handoff !== undefined) result.handoff = flags.handoff;
  const stop: Record<string, unknown> = {};
  if (flags.stopSignal !== undefined) stop.signal = flags.stopSignal;
  if (flags.stopTimeout !== undefined) stop.timeout = flags.stopTimeout;
  if (Object.keys(stop).length > 0) result.stop = stop;
  return result;
}

/** The config file a run in `cwd` uses (--config, else airlock.yaml or airlock.yml there), without reading it. */
export function findConfigFile(cwd: string, configFile: string | undefined): string | undefined {
  return configFile ?? CONFIG_NAMES.map((name) => join(cwd, name)).find((path) => existsSync(path));
}

/**
 * Finds the config for a run: --config, else airlock.yaml here, else the flags and the
 * project's preset. Flag values go through the same schema as the file.
 *
 * @example
 *   const loaded = discoverConfig(process.cwd(), undefined, { run: 'bin/app', listen: '8080' });
 */
export function discoverConfig(cwd: string, configFile: string | undefined, flags: ServiceFlags): LoadedConfig {
  const file = findConfigFile(cwd, configFile);
  if (file !== undefined) {
    if (hasFlags(flags)) {
      throw new AirlockError(
        'USAGE_FLAG',
        `--build/--run/--watch/--listen/--handoff describe a service without a config file, but ${basename(file)} is in use`,
        { details: [`set these in ${file} instead, or run from a directory without it`] },
      );
    }
    return loadConfigFile(file, cwd);
  }
  let services: Record<string, unknown> = flags.run === undefined ? detectServices(cwd) : {};
  const names = Object.keys(services);
  if (flags.run !== undefined) services = { [serviceName(basename(cwd))]: applyFlags({}, flags) };
  else if (names.length === 0) {
    throw new AirlockError('CONFIG_NO_SERVICE', `no airlock.yaml, no --run flag, and no Go main package or package.json start script in ${cwd}`, {
      details: noStartScript(cwd),
    });
  } else if (hasFlags(flags)) {
    if (names.length > 1) {
      throw new AirlockError('USAGE_FLAG', `flags describe one service, but ${cwd} has ${names.length}: ${names.join(', ')}`, {
        details: ['run `airlock init` to write an airlock.yaml with one entry per service'],
      });
    }
    services = { [names[0] as string]: applyFlags(services[names[0] as string] as Record<string, unknown>, flags) };
  }
  const result = validateConfig({ services }, cwd, (target) => {
    const key = [...target.path.slice(2), ...(target.key ? [target.key] : [])].map(String).join('.');
    return { source: FLAG_OF[key] ?? 'flags' };
  });
  if (result.config === undefined) {
    throw new AirlockError('USAGE_FLAG', 'invalid flags', { details: result.problems.map(formatProblem) });
  }
  return { config: result.config, file: undefined, baseDir: cwd };
}
