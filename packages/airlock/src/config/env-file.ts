import { readFileSync, statSync } from 'node:fs';
import { parseEnv } from 'node:util';
import { AirlockError } from '../errors.js';

/**
 * Linux's limit on one environment string ("KEY=value" and its terminating NUL:
 * MAX_ARG_STRLEN, 32 pages): a longer one makes every spawn fail with E2BIG.
 */
export const ENV_STRING_MAX = 128 * 1024;
/** Config and env files airlock reads (a config file read on every save must stay cheap). */
export const CONFIG_FILE_MAX = 1024 * 1024;
const NUL = '\0';
const BOM = '\uFEFF';

/** Why `key=value` cannot be in a process's environment, or undefined when it can. */
export function envProblem(key: string, value: string): string | undefined {
  if (key.includes(NUL) || value.includes(NUL)) return NUL_MESSAGE;
  const bytes = Buffer.byteLength(`${key}=${value}`);
  if (bytes + 1 > ENV_STRING_MAX) {
    return `"${key}=…" is ${bytes} bytes; Linux starts no process with an environment string of 128 KiB (${ENV_STRING_MAX} bytes) or more (E2BIG): pass it in a file instead`;
  }
  return undefined;
}

export const NUL_MESSAGE = 'contains a NUL byte (\\0), which no command or environment can hold: remove it';

/** "2.0 MiB", "1 MiB", "12 KiB" */
export function mib(bytes: number): string {
  if (bytes < 1024 * 1024) return `${Math.ceil(bytes / 1024)} KiB`;
  const value = bytes / (1024 * 1024);
  return `${Number.isInteger(value) ? value : value.toFixed(1)} MiB`;
}

const ASSIGNMENT = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*=\s*(.*)$/;

/**
 * A quote opened in a value and not closed on its line: dotenv takes everything up to the
 * next such quote as the value, so the assignments in between vanish into it. A value
 * that spans lines on purpose (a certificate) holds no assignment lines; one that does is
 * a quote left open. Returns the problem with its line, or undefined.
 */
function openQuote(lines: readonly string[]): string | undefined {
  for (let i = 0; i < lines.length; i++) {
    const match = ASSIGNMENT.exec(lines[i] as string);
    const value = match?.[2] ?? '';
    const quote = value[0];
    if (match === undefined || match === null || (quote !== '"' && quote !== "'" && quote !== '`')) continue;
    if (value.indexOf(quote, 1) !== -1) continue;
    const end = lines.findIndex((line, j) => j > i && line.includes(quote));
    const swallowed = lines.slice(i + 1, end === -1 ? lines.length : end).findIndex((line) => ASSIGNMENT.test(line));
    if (end !== -1 && swallowed === -1) {
      i = end;
      continue;
    }
    const victim = swallowed === -1 ? undefined : ASSIGNMENT.exec(lines[i + 1 + swallowed] as string)?.[1];
    const lost = victim === undefined ? 'the rest of the file' : `${victim} on line ${i + 2 + swallowed}`;
    return `${i + 1}: the ${quote} opened here is not closed on its line, so ${lost} would be part of ${match[1]}'s value: close it`;
  }
  return undefined;
}

/**
 * Reads one dotenv file for a generation's environment, refusing what would start no
 * process or silently mean something else: a file over 1 MiB, a NUL byte, a value over
 * Linux's 128 KiB per string, a quote left open. A UTF-8 BOM (Windows editors) is dropped,
 * so the first key is the one written. Errors are ENV_FILE, with the file and line.
 *
 * @example
 *   readEnvFile('/app/.env'); // { DATABASE_URL: 'postgres://…', PORT_HINT: '3000' }
 */
export function readEnvFile(file: string): Record<string, string> {
  const size = statSync(file).size;
  if (size > CONFIG_FILE_MAX) throw new AirlockError('ENV_FILE', `${file} is ${mib(size)}; airlock reads env files of up to ${mib(CONFIG_FILE_MAX)}`);
  let text = readFileSync(file, 'utf8');
  if (text.startsWith(BOM)) text = text.slice(1);
  const lines = text.split(/\r?\n/);
  const nul = lines.findIndex((line) => line.includes(NUL));
  if (nul !== -1) throw new AirlockError('ENV_FILE', `${file}:${nul + 1}: ${NUL_MESSAGE}`);
  const quote = openQuote(lines);
  if (quote !== undefined) throw new AirlockError('ENV_FILE', `${file}:${quote}`);
  const env = parseEnv(text) as Record<string, string>;
  for (const [key, value] of Object.entries(env)) {
    const problem = envProblem(key, value);
    if (problem === undefined) continue;
    const line = lines.findIndex((text) => ASSIGNMENT.exec(text)?.[1] === key);
    throw new AirlockError('ENV_FILE', `${file}:${line + 1}: ${problem}`);
  }
  return env;
}
