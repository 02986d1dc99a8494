import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';

export type PathSegment = string | number;

/** A position in a source file, 1-based, as editors and compilers print it. */
export interface Position {
  readonly line: number;
  readonly col: number;
}

/**
 * Maps a path inside a parsed YAML document back to its line and column, so every
 * validation problem can point at the exact spot in airlock.yaml.
 */
export interface SourceMap {
  /** Position of the value at path (or, with `key`, of that key inside the map at path). */
  locate(path: readonly PathSegment[], key?: string): Position;
}

export interface ParsedYaml {
  readonly value: unknown;
  readonly errors: readonly { readonly position: Position; readonly message: string }[];
  readonly map: SourceMap;
}

function keyOf(node: unknown): unknown {
  return isScalar(node) ? node.value : node;
}

/** How many alias expansions one document may make (the yaml library's default). */
const MAX_ALIASES = 100;

/**
 * Text of a config file, refused when it is not UTF-8 (a stray byte would otherwise become
 * U+FFFD and reach a command or a path unnoticed). Throws a SyntaxError naming line:column.
 */
export function decodeUtf8(bytes: Uint8Array): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    const loose = new TextDecoder('utf-8').decode(bytes);
    const at = loose.indexOf('\uFFFD');
    const before = loose.slice(0, Math.max(at, 0)).split('\n');
    throw new SyntaxError(`${before.length}:${(before.at(-1)?.length ?? 0) + 1}: invalid UTF-8 (save the file as UTF-8)`);
  }
}

export function parseYaml(text: string): ParsedYaml {
  const lineCounter = new LineCounter();
  // merge: `<<: *common` shares settings between services, as YAML users expect.
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, merge: true });
  const toPosition = (offset: number): Position => lineCounter.linePos(offset);
  const errors = doc.errors.map((error) => ({
    position: toPosition(error.pos[0]),
    message: error.message.split('\n')[0] ?? error.message,
  }));
  let value: unknown;
  if (errors.length === 0) {
    try {
      // An alias bomb (aliases of aliases, billions of nodes) stops at maxAliasCount.
      value = doc.toJS({ maxAliasCount: MAX_ALIASES });
    } catch (error) {
      errors.push({ position: toPosition(0), message: `cannot expand the document: ${(error as Error).message}` });
    }
  }
  return {
    value,
    errors,
    map: { locate: (path, key) => toPosition(offsetOf(doc, path, key)) },
  };
}

/** Walks as deep as the document goes; a missing key is reported where its parent is. */
function offsetOf(doc: Document, path: readonly PathSegment[], key?: string): number {
  let node: unknown = doc.contents;
  let offset = (doc.contents as Node | null)?.range?.[0] ?? 0;
  const segments = key === undefined ? path : [...path, key];
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i];
    const wantKey = key !== undefined && i === segments.length - 1;
    if (isMap(node)) {
      const pair = node.items.find((item) => String(keyOf(item.key)) === String(segment));
      if (pair === undefined) break;
      const target = wantKey ? pair.key : pair.value ?? pair.key;
      offset = (target as Node | null)?.range?.[0] ?? offset;
      node = pair.value;
    } else if (isSeq(node) && typeof segment === 'number') {
      const item = node.items[segment] as Node | undefined;
      if (item === undefined) break;
      offset = item.range?.[0] ?? offset;
      node = item;
    } else {
      break;
    }
  }
  return offset;
}
