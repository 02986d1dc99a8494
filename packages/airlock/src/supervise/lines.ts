import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';

/** The longest line passed on (in characters); the rest of a longer one is dropped. */
export const MAX_LINE = 16 * 1024;

/** What a cut line ends with, so nobody takes it for the whole line. */
export function cutNote(dropped: number): string {
  return ` … [line cut: ${dropped} more characters without a newline]`;
}

/**
 * Calls onLine for each complete line of a stream, and once for a last unterminated one.
 * Each chunk is scanned once and at most MAX_LINE characters are kept, so output without
 * newlines (binary garbage, a 10 MB line) costs time linear in its size and bounded memory.
 */
export function forEachLine(stream: Readable, onLine: (line: string) => void, maxLine = MAX_LINE): void {
  const decoder = new StringDecoder('utf8');
  let pending = '';
  // Characters of the current line dropped beyond maxLine.
  let dropped = 0;
  const emit = () => {
    const line = pending.endsWith('\r') ? pending.slice(0, -1) : pending;
    onLine(dropped > 0 ? `${line}${cutNote(dropped)}` : line);
    pending = '';
    dropped = 0;
  };
  const take = (text: string) => {
    const room = maxLine - pending.length;
    if (text.length <= room) pending += text;
    else {
      pending += text.slice(0, Math.max(room, 0));
      dropped += text.length - Math.max(room, 0);
    }
  };
  stream.on('data', (chunk: Buffer | string) => {
    const text = typeof chunk === 'string' ? chunk : decoder.write(chunk);
    let start = 0;
    let newline = text.indexOf('\n');
    while (newline !== -1) {
      take(text.slice(start, newline));
      emit();
      start = newline + 1;
      newline = text.indexOf('\n', start);
    }
    take(text.slice(start));
  });
  stream.on('end', () => {
    take(decoder.end());
    if (pending !== '' || dropped > 0) emit();
  });
}

/** The last `size` lines written to it: what a failure report shows of a child's output. */
export class LineTail {
  readonly #lines: string[] = [];
  constructor(private readonly size = 20) {}

  push(line: string): void {
    this.#lines.push(line);
    if (this.#lines.length > this.size) this.#lines.shift();
  }

  lines(): string[] {
    return [...this.#lines];
  }
}
