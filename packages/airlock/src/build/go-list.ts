import { AirlockError } from '../errors.js';

/** The fields of `go list -json` output that airlock reads. */
export interface ListedPackage {
  ImportPath: string;
  Dir: string;
  Name?: string;
  GoFiles?: string[];
  CgoFiles?: string[];
  CFiles?: string[];
  HFiles?: string[];
  SFiles?: string[];
  EmbedFiles?: string[];
  EmbedPatterns?: string[];
  Imports?: string[];
  Module?: { Main?: boolean };
}

/** Parses the stream of JSON objects `go list -json` prints. */
export function parseGoList(text: string): ListedPackage[] {
  const packages: ListedPackage[] = [];
  let depth = 0;
  let start = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '{' && depth++ === 0) start = i;
    else if (c === '}' && --depth === 0) packages.push(parsePackage(text.slice(start, i + 1)));
  }
  return packages;
}

function parsePackage(json: string): ListedPackage {
  try {
    return JSON.parse(json) as ListedPackage;
  } catch (error) {
    throw new AirlockError('PRESET_GO', `go list printed output airlock cannot read (${(error as Error).message}): ${json.slice(0, 120)}`);
  }
}
