import type { Writable } from 'node:stream';

/** Bytes airlock lets wait for a slow reader of its output before it drops lines. */
export const OUTPUT_BUFFER_LIMIT = 4 * 1024 * 1024;

/**
 * Writes lines to a stream without ever buffering more than `limit` bytes for it: while
 * the reader lags (a slow pipe, an unread FIFO), lines are dropped and counted, and one
 * line says how many once it catches up. A child that floods its output can then cost
 * airlock neither memory without bound nor its event loop.
 *
 * @example
 *   const write = boundedWriter(process.stdout);
 *   write('api │ serving on :8080');
 */
export function boundedWriter(stream: Writable, limit = OUTPUT_BUFFER_LIMIT): (line: string) => void {
  let dropped = 0;
  // A closed reader (EPIPE) drops everything from then on; it is no reason to fall over.
  let broken = false;
  stream.on('error', () => (broken = true));
  return (line: string) => {
    if (broken) return;
    if (stream.writableLength > limit) {
      dropped++;
      return;
    }
    if (dropped > 0) {
      stream.write(`airlock: ${dropped} lines of output dropped: the reader of airlock's output was too slow\n`);
      dropped = 0;
    }
    stream.write(`${line}\n`);
  };
}
