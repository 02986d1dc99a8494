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

export function parseYaml(text: string): ParsedYaml {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  const toPosition = (offset: number): Position => lineCounter.linePos(offset);
  return {
    value: doc.errors.length === 0 ? doc.toJS() : undefined,
    errors: doc.errors.map((error) => ({
      position: toPosition(error.pos[0]),
      message: error.message.split('\n')[0] ?? error.message,
    })),
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
