/**
 * A host's expectations of one plugin, in any Standard Schema validator (zod, valibot,
 * arktype: https://standardschema.dev): which exports must be functions, and a schema for
 * each call's arguments (the array) and result. Checked at the boundary, host side.
 *
 * @example
 *   import { z } from 'zod';
 *   const greet: Contract = { exports: { hello: { args: z.tuple([z.string()]), result: z.string() } } };
 */
export interface StandardSchema {
  readonly '~standard': {
    readonly version: 1;
    validate(value: unknown): StandardResult | Promise<StandardResult>;
  };
}
type StandardResult = { readonly value: unknown; readonly issues?: undefined } | { readonly issues: readonly { readonly message: string; readonly path?: readonly unknown[] }[] };

export interface Contract {
  readonly exports: Readonly<Record<string, { readonly args?: StandardSchema; readonly result?: StandardSchema }>>;
}

/** A plugin or a call that does not fit its contract. */
export class ContractError extends Error {
  override readonly name = 'ContractError';
}

/** The exports a contract needs that the module does not have as functions; undefined when all fit. */
export function checkExports(contract: Contract | undefined, exports: ReadonlyMap<string, string>): string | undefined {
  if (contract === undefined) return undefined;
  for (const name of Object.keys(contract.exports)) {
    const type = exports.get(name);
    if (type === undefined) return `export "${name}" is missing (the contract needs a function)`;
    if (type !== 'function') return `export "${name}" is a ${type}, the contract needs a function`;
  }
  return undefined;
}

function describeIssues(issues: readonly { message: string; path?: readonly unknown[] }[]): string {
  return issues.map((issue) => `${issue.path?.length ? `${issue.path.map((p) => (typeof p === 'object' && p !== null && 'key' in p ? String((p as { key: unknown }).key) : String(p))).join('.')}: ` : ''}${issue.message}`).join('; ');
}

/** Validates a value with a schema; the value the schema gives back, or a ContractError naming what. */
export async function validate(schema: StandardSchema | undefined, value: unknown, what: string): Promise<unknown> {
  if (schema === undefined) return value;
  const result = await schema['~standard'].validate(value);
  if (result.issues) throw new ContractError(`${what} does not fit the contract: ${describeIssues(result.issues)}`);
  return result.value;
}
