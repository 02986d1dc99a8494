import type { Writable } from 'node:stream';

/** Bytes airlock lets wait for a slow reader of its output before it drops lines. */
export const OUTPUT_BUFFER_LIMIT = 4 * 1024 * 1024;

/** airlock's own lines (events, errors, the reload line) wait up to this much before they are dropped too. */
export const OWN_LINES_LIMIT = 4 * OUTPUT_BUFFER_LIMIT;

/**
 * Writes lines to a stream without ever buffering more than a bound for it: while the
 * reader lags (a slow pipe, an unread FIFO), the children's output (`droppable` lines) is
 * dropped past `limit` and counted, and one line says how many once it catches up. airlock's
 * own lines are few, and what a reader of its output waits for (a reload.ready among a
 * child's flood): they go on past `limit`, up to four times it. A child that floods its
 * output can then cost airlock neither memory without bound nor its event loop, nor hide
 * what airlock says.
 *
 * @example
 *   const write = boundedWriter(process.stdout);
 *   write('api │ serving on :8080', true); // a child's line
 *   write('api g2 ready in 412 ms');       // airlock's own
 */
export function boundedWriter(stream: Writable, limit = OUTPUT_BUFFER_LIMIT): (line: string, droppable?: boolean) => void {
  let dropped = 0;
  // A closed reader (EPIPE) drops everything from then on; it is no reason to fall over.
  let broken = false;
  stream.on('error', () => (broken = true));
  return (line: string, droppable = false) => {
    if (broken) return;
    if (stream.writableLength > (droppable ? limit : 4 * limit)) {
      dropped++;
      return;
    }
    if (dropped > 0 && stream.writableLength <= limit) {
      stream.write(`airlock: ${dropped} lines of output dropped: the reader of airlock's output was too slow\n`);
      dropped = 0;
    }
    stream.write(`${line}\n`);
  };
}
