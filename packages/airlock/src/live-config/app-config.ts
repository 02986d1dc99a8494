import { randomUUID } from 'node:crypto';
import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import { basename, extname } from 'node:path';
import { parseEnv } from 'node:util';
import { Ajv, type ValidateFunction } from 'ajv';
import { escapeRegExp } from '../config/literal.js';
import { parseYaml, type Position } from '../config/locate.js';
import { HALF_WRITTEN_RETRIES, readSettled } from './settled-read.js';

/** Why a snapshot of an app's config files was refused: where, and what. */
export interface Rejection {
  readonly file: string;
  readonly position: Position | undefined;
  readonly message: string;
}

export type Snapshot = { readonly ok: true; readonly value: Record<string, unknown> } | { readonly ok: false; readonly rejection: Rejection };

interface Parsed {
  readonly value: Record<string, unknown>;
  /** Position of a top-level (or nested, dotted) key in the file. */
  readonly locate: (path: readonly (string | number)[]) => Position | undefined;
}

/** Parses one file by its extension: .env (dotenv), else YAML (JSON is YAML). */
function parseFile(file: string, text: string): Parsed | Rejection {
  if (extname(file) === '.env' || basename(file).startsWith('.env')) {
    const lines = text.split('\n');
    return {
      value: parseEnv(text),
      locate: ([key]) => {
        const line = lines.findIndex((l) => new RegExp(`^\\s*(export\\s+)?${escapeRegExp(String(key))}\\s*=`).test(l));
        return line === -1 ? undefined : { line: line + 1, col: 1 };
      },
    };
  }
  const parsed = parseYaml(text);
  if (parsed.errors.length > 0) return { file, position: parsed.errors[0]?.position, message: parsed.errors[0]?.message ?? 'not valid YAML/JSON' };
  const value = parsed.value;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return { file, position: { line: 1, col: 1 }, message: 'expected a map of keys at the top level' };
  return { value: value as Record<string, unknown>, locate: (path) => parsed.map.locate(path) };
}

const isRejection = (value: Parsed | Rejection): value is Rejection => 'message' in value;

/** `config.yaml:2:11: greeting must be string`, the file named as `name` gives it (default: its base name). */
export function describeRejection({ file, position, message }: Rejection, name: (file: string) => string = basename): string {
  return `${name(file)}${position ? `:${position.line}:${position.col}` : ''}: ${message}`;
}

async function readAndParse(file: string): Promise<Parsed | Rejection> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    return { file, position: undefined, message: (error as Error).message };
  }
  return text.trim() === '' ? { file, position: { line: 1, col: 1 }, message: 'the file is empty' } : parseFile(file, text);
}

/**
 * Reads an app's config files as one snapshot (later files override earlier keys) and
 * checks it against the JSON Schema. A file that does not parse right after a change
 * may be half-written: it is read again (up to 3 times, 100 ms apart) before it counts.
 *
 * @example
 *   const snapshot = await readSnapshot(['/app/config.yaml'], validator);
 *   if (!snapshot.ok) console.log(snapshot.rejection); // { file, position: { line, col }, message }
 */
export async function readSnapshot(files: readonly string[], validate: ValidateFunction | undefined, retries = HALF_WRITTEN_RETRIES): Promise<Snapshot> {
  const parsed: { file: string; result: Parsed }[] = [];
  for (const file of files) {
    const result = await readSettled(() => readAndParse(file), (r) => !isRejection(r), retries);
    if (isRejection(result)) return { ok: false, rejection: result };
    parsed.push({ file, result });
  }
  const value = Object.assign({}, ...parsed.map((entry) => entry.result.value)) as Record<string, unknown>;
  if (validate && !validate(value)) {
    const error = validate.errors?.[0];
    const path = (error?.instancePath ?? '').split('/').filter(Boolean);
    // The file that set the offending key last is the one to fix.
    const owner = [...parsed].reverse().find((entry) => path.length === 0 || path[0] as string in entry.result.value) ?? parsed[parsed.length - 1];
    const at = error?.instancePath ? error.instancePath.replaceAll('/', '.').slice(1) : '(top level)';
    return {
      ok: false,
      rejection: { file: owner?.file ?? files[0] ?? '', position: owner?.result.locate(path), message: `${at} ${error?.message ?? 'is invalid'}` },
    };
  }
  return { ok: true, value };
}

/**
 * The whole check a running airlock (and `airlock validate`) makes before an app sees its
 * config: the schema compiles, the files parse, the merged snapshot satisfies the schema.
 * A schema that does not compile is a rejection of the schema file.
 *
 * @example
 *   const snapshot = await checkAppConfig({ files: ['/app/config.yaml'], schema: '/app/schema.json' });
 */
export async function checkAppConfig(
  appConfig: { readonly files: readonly string[]; readonly schema: string | undefined },
  retries = HALF_WRITTEN_RETRIES,
): Promise<Snapshot> {
  let validate: ValidateFunction | undefined;
  try {
    validate = appConfig.schema ? await compileSchema(appConfig.schema) : undefined;
  } catch (error) {
    const rejection = { file: appConfig.schema as string, position: undefined, message: `not a valid JSON Schema: ${(error as Error).message}` };
    return { ok: false, rejection };
  }
  return readSnapshot(appConfig.files, validate, retries);
}

/** Compiles a JSON Schema file once. */
export async function compileSchema(file: string): Promise<ValidateFunction> {
  const ajv = new Ajv({ allErrors: false, strict: false });
  return ajv.compile(JSON.parse(await readFile(file, 'utf8')) as object);
}

/**
 * Replaces the snapshot file in one step: write a temp file beside it, fsync, rename. A
 * reader sees the old file or the new one, never a half-written one.
 */
export async function writeSnapshot(path: string, value: Record<string, unknown>): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  // One name per write: two checks that overlap must not write (and rename) one temp file.
  const temp = `${path}.${process.pid}.${randomUUID()}.tmp`;
  const file = await open(temp, 'w', 0o600);
  try {
    await file.writeFile(`${JSON.stringify(value, null, 2)}\n`);
    await file.sync();
  } finally {
    await file.close();
  }
  await rename(temp, path);
}
