import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';

/** Calls onLine for each complete line of a stream, and once for a last unterminated one. */
export function forEachLine(stream: Readable, onLine: (line: string) => void): void {
  const decoder = new StringDecoder('utf8');
  let pending = '';
  stream.on('data', (chunk: Buffer) => {
    pending += decoder.write(chunk);
    let newline = pending.indexOf('\n');
    while (newline !== -1) {
      onLine(pending.slice(0, newline).replace(/\r$/, ''));
      pending = pending.slice(newline + 1);
      newline = pending.indexOf('\n');
    }
  });
  stream.on('end', () => {
    pending += decoder.end();
    if (pending !== '') onLine(pending);
    pending = '';
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
