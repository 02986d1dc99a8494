import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface PackageScripts {
  readonly name: string | undefined;
  readonly scripts: Readonly<Record<string, string>>;
  /** Its "main" entry, when it names one. */
  readonly main?: string;
}

/** The name and scripts of dir/package.json, or undefined when there is none. */
export function readPackageJson(dir: string): PackageScripts | undefined {
  let text: string;
  try {
    text = readFileSync(join(dir, 'package.json'), 'utf8');
  } catch {
    return undefined;
  }
  try {
    const json = JSON.parse(text) as { name?: unknown; scripts?: unknown; main?: unknown };
    const scripts = typeof json.scripts === 'object' && json.scripts !== null ? (json.scripts as Record<string, string>) : {};
    return { name: typeof json.name === 'string' ? json.name : undefined, scripts, ...(typeof json.main === 'string' ? { main: json.main } : {}) };
  } catch {
    return undefined;
  }
}

export const NODE_SOURCES = ['**/*.{js,mjs,cjs,jsx,ts,mts,cts,tsx,json}'];
/** Build output must not trigger the build that wrote it. */
export const NODE_BUILD_OUTPUTS = ['dist/**', 'build/**'];
