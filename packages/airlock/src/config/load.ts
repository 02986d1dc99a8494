import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { AirlockError } from '../errors.js';
import { CONFIG_FILE_MAX, mib, readEnvFile } from './env-file.js';
import { decodeUtf8, parseYaml, type PathSegment, type Position } from './locate.js';
import { describeIssues, formatProblem, type IssueTarget, type Problem } from './problems.js';
import { configSchema, type Config } from './schema.js';

/** A validated config plus where it came from (relative paths resolve against `baseDir`). */
export interface LoadedConfig {
  readonly config: Config;
  readonly file: string | undefined;
  readonly baseDir: string;
}

export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const inner of Object.values(value)) deepFreeze(inner);
  }
  return value;
}

function record(value: unknown): Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

/** Paths that must exist, checked on the raw input so they are reported with schema problems. */
function missingFiles(raw: unknown, baseDir: string): IssueTarget[] {
  const targets: IssueTarget[] = [];
  const services = record(record(raw).services);
  for (const [name, value] of Object.entries(services)) {
    const service = record(value);
    const at = (...rest: PathSegment[]) => ['services', name, ...rest];
    const dir = resolve(baseDir, typeof service.dir === 'string' ? service.dir : '.');
    if (typeof service.dir === 'string' && !isDirectory(dir)) {
      const why = isLinkLoop(dir) ? `"${service.dir}" is a symbolic link that leads to itself (a loop): point it at a directory` : `directory "${service.dir}" does not exist`;
      targets.push({ path: at('dir'), message: `services.${name}.dir: ${why}` });
      continue;
    }
    const envFile = record(service.run).envFile;
    const envFiles = typeof envFile === 'string' ? [envFile] : Array.isArray(envFile) ? envFile : [];
    envFiles.forEach((file, index) => {
      if (typeof file !== 'string') return;
      const path = typeof envFile === 'string' ? at('run', 'envFile') : at('run', 'envFile', index);
      if (!existsSync(resolve(dir, file))) {
        targets.push({ path, message: `services.${name}.run.envFile: file "${file}" does not exist (relative to ${dir})` });
        return;
      }
      // What a generation's start would refuse (a NUL, a quote left open, a value over 128 KiB) is said now, at its line.
      try {
        readEnvFile(resolve(dir, file));
      } catch (error) {
        targets.push({ path, message: `services.${name}.run.envFile: ${(error as Error).message}` });
      }
    });
    const appConfig = record(service.config);
    (Array.isArray(appConfig.files) ? appConfig.files : []).forEach((file, index) => {
      if (typeof file === 'string' && !existsSync(resolve(dir, file))) {
        targets.push({ path: at('config', 'files', index), message: `services.${name}.config.files: file "${file}" does not exist (relative to ${dir})` });
      }
    });
    const release = record(service.release);
    if (typeof release.trust === 'string' && !existsSync(resolve(dir, release.trust))) {
      targets.push({ path: at('release', 'trust'), message: `services.${name}.release.trust: file "${release.trust}" does not exist (relative to ${dir}); it is KEYDIR/1.root.json from \`airlock release init\`` });
    }
    const pluginRelease = record(record(service.plugins).release);
    if (typeof pluginRelease.trust === 'string' && !existsSync(resolve(dir, pluginRelease.trust))) {
      targets.push({ path: at('plugins', 'release', 'trust'), message: `services.${name}.plugins.release.trust: file "${pluginRelease.trust}" does not exist (relative to ${dir}); it is KEYDIR/1.root.json from \`airlock release init\`` });
    }
    if (typeof appConfig.schema === 'string' && !existsSync(resolve(dir, appConfig.schema))) {
      targets.push({ path: at('config', 'schema'), message: `services.${name}.config.schema: file "${appConfig.schema}" does not exist (relative to ${dir})` });
    }
    const main = record(service.go).main;
    if (typeof main === 'string' && !isDirectory(resolve(dir, main))) {
      targets.push({ path: at('go', 'main'), message: `services.${name}.go.main: package directory "${main}" does not exist` });
    }
    const goPlugins = record(service.plugins).go;
    (Array.isArray(goPlugins) ? goPlugins : []).forEach((pkg, index) => {
      if (typeof pkg === 'string' && !isDirectory(resolve(dir, pkg))) {
        targets.push({ path: at('plugins', 'go', index), message: `services.${name}.plugins.go: plugin package directory "${pkg}" does not exist (relative to ${dir})` });
      }
    });
  }
  return targets;
}

function isLinkLoop(path: string): boolean {
  try {
    statSync(path);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ELOOP';
  }
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/**
 * Validates raw config input completely and returns every problem at once, each located
 * through `locate` (a YAML source map, or a flag name for command-line input).
 */
export function validateConfig(
  raw: unknown,
  baseDir: string,
  locate: (target: IssueTarget) => Omit<Problem, 'message'>,
): { config: Config; problems: [] } | { config: undefined; problems: Problem[] } {
  const result = configSchema.safeParse(raw, { reportInput: true });
  const targets = [...(result.success ? [] : describeIssues(configSchema, result.error.issues)), ...missingFiles(raw, baseDir)];
  if (targets.length > 0) {
    const problems = targets.map((target) => ({ ...locate(target), message: target.message }));
    problems.sort((a, b) => (a.position?.line ?? 0) - (b.position?.line ?? 0) || (a.position?.col ?? 0) - (b.position?.col ?? 0));
    return { config: undefined, problems };
  }
  return { config: deepFreeze(result.data as Config), problems: [] };
}

/** Reads, parses and validates a config file; throws an AirlockError listing every problem. */
export function loadConfigFile(file: string, cwd = process.cwd()): LoadedConfig {
  const path = resolve(cwd, file);
  let bytes: Buffer;
  try {
    checkConfigSize(statSync(path).size, path);
    bytes = readFileSync(path);
  } catch (error) {
    if (error instanceof AirlockError) throw error;
    throw new AirlockError('CONFIG_NOT_FOUND', `config file "${file}" does not exist or cannot be read`);
  }
  return parseConfigBytes(bytes, path);
}

/**
 * A config file over CONFIG_FILE_MAX is refused with its size, before it is read: a
 * 124 MB airlock.yaml saved by mistake must not stall the proxies that share airlock's
 * event loop while it is parsed (it did, for about a minute).
 */
export function checkConfigSize(bytes: number, path: string): void {
  if (bytes <= CONFIG_FILE_MAX) return;
  throw new AirlockError('CONFIG_TOO_BIG', `${basename(path)} is ${mib(bytes)}; airlock reads config files of up to ${mib(CONFIG_FILE_MAX)}`);
}

/** parseConfigText for the file's bytes: a file that is not UTF-8 is a CONFIG_PARSE error at its line. */
export function parseConfigBytes(bytes: Uint8Array, path: string): LoadedConfig {
  checkConfigSize(bytes.length, path);
  let text: string;
  try {
    text = decodeUtf8(bytes);
  } catch (error) {
    throw new AirlockError('CONFIG_PARSE', `${basename(path)} is not valid UTF-8`, { details: [`${basename(path)}:${(error as Error).message}`] });
  }
  return parseConfigText(text, path);
}

export function parseConfigText(text: string, path: string): LoadedConfig {
  const source = basename(path);
  const parsed = parseYaml(text);
  const located = (position: Position, message: string): string => formatProblem({ source, position, message });
  if (parsed.errors.length > 0) {
    const details = parsed.errors.map((error) => located(error.position, error.message));
    throw new AirlockError('CONFIG_PARSE', `${source} is not valid YAML`, { details });
  }
  const baseDir = dirname(path);
  const result = validateConfig(parsed.value ?? {}, baseDir, (target) => ({
    source,
    position: parsed.map.locate(target.path, target.key),
  }));
  if (result.config === undefined) {
    const count = result.problems.length;
    throw new AirlockError('CONFIG_INVALID', `${source} has ${count} problem${count === 1 ? '' : 's'}`, {
      details: result.problems.map(formatProblem),
    });
  }
  return { config: result.config, file: path, baseDir };
}
