import type { z } from 'zod';
import type { PathSegment, Position } from './locate.js';
import { closest } from './suggest.js';

/** One thing wrong with the config, located so the user can jump straight to it. */
export interface Problem {
  /** Where: a file name ("airlock.yaml") or a flag ("--debounce"). */
  readonly source: string;
  readonly position?: Position;
  readonly message: string;
}

/** "airlock.yaml:12:5: message" or "--debounce: message". */
export function formatProblem(problem: Problem): string {
  const where = problem.position ? `${problem.source}:${problem.position.line}:${problem.position.col}` : problem.source;
  return `${where}: ${problem.message}`;
}

export function dotted(path: readonly PathSegment[]): string {
  return path.map(String).join('.') || '(top level)';
}

/** Where an issue points: the value at a path, or a key inside the map at that path. */
export interface IssueTarget {
  readonly path: readonly PathSegment[];
  readonly key?: string;
  readonly message: string;
}

type AnySchema = z.ZodType;

interface Def {
  type: string;
  innerType?: AnySchema;
  in?: AnySchema;
  valueType?: AnySchema;
  shape?: Record<string, AnySchema>;
  options?: AnySchema[];
}

function defOf(schema: AnySchema): Def {
  return (schema as unknown as { _zod: { def: Def } })._zod.def;
}

/** The keys an object schema at `path` allows, for "did you mean" hints. */
export function allowedKeys(root: AnySchema, path: readonly PathSegment[]): string[] {
  let schema: AnySchema | undefined = root;
  const unwrap = () => {
    for (;;) {
      const def: Def | undefined = schema && defOf(schema);
      if (def?.innerType) schema = def.innerType;
      else if (def?.type === 'pipe' && def.in) schema = def.in;
      else return;
    }
  };
  for (const segment of path) {
    unwrap();
    const def: Def | undefined = schema && defOf(schema);
    if (def?.type === 'record') schema = def.valueType;
    else if (def?.type === 'object') schema = def.shape?.[String(segment)];
    else return [];
  }
  unwrap();
  const def = schema && defOf(schema);
  return def?.type === 'object' ? Object.keys(def.shape ?? {}) : [];
}

function describeInput(input: unknown): string {
  if (input === undefined) return 'nothing';
  if (input === null) return 'null';
  if (Array.isArray(input)) return 'a list';
  if (typeof input === 'object') return 'a map';
  return `${typeof input} ${JSON.stringify(input)}`;
}

/**
 * Turns zod issues into messages that name the option, the value received and the fix.
 * One zod issue can become several targets (one per unknown key).
 */
export function describeIssues(root: AnySchema, issues: readonly z.core.$ZodIssue[]): IssueTarget[] {
  const targets: IssueTarget[] = [];
  for (const issue of issues) {
    const path = issue.path as PathSegment[];
    const at = dotted(path);
    const input = (issue as { input?: unknown }).input;
    switch (issue.code) {
      case 'unrecognized_keys': {
        const allowed = allowedKeys(root, path);
        for (const key of issue.keys) {
          const guess = closest(key, allowed);
          // A key one level too high (`env:` beside `run:` instead of under it).
          const home = guess === undefined ? allowed.find((parent) => allowedKeys(root, [...path, parent]).includes(key)) : undefined;
          const hint = guess ? `did you mean "${guess}"?` : home ? `did you mean "${home}.${key}"? (${key} belongs under ${home})` : `allowed keys: ${allowed.join(', ')}`;
          targets.push({ path, key, message: `unknown key "${key}" in ${at}; ${hint}` });
        }
        break;
      }
      case 'invalid_type':
        targets.push({
          path,
          message:
            input === undefined
              ? `${at} is required (expected ${issue.expected})`
              : `${at}: expected ${issue.expected}, got ${describeInput(input)}`,
        });
        break;
      case 'invalid_value': {
        const options = issue.values.map(String);
        const guess = typeof input === 'string' ? closest(input, options) : undefined;
        targets.push({
          path,
          message: `${at}: expected one of ${options.join(', ')}, got ${describeInput(input)}${guess ? `; did you mean "${guess}"?` : ''}`,
        });
        break;
      }
      case 'invalid_key': {
        const reason = issue.issues[0]?.message ?? issue.message;
        const name = path[path.length - 1];
        targets.push({ path: path.slice(0, -1), key: String(name), message: `invalid name "${String(name)}": ${reason}` });
        break;
      }
      default:
        targets.push({ path, message: `${at}: ${issue.message}` });
    }
  }
  return targets;
}
