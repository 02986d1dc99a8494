import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { boundedWriter, OUTPUT_BUFFER_LIMIT } from '../src/observe/bounded-writer.ts';

/** A reader that never reads: everything written stays buffered, and `sent` is what it would get. */
function stuckStream(): { stream: Writable; sent: () => string; release: () => void } {
  const chunks: string[] = [];
  const callbacks: (() => void)[] = [];
  let released = false;
  const stream = new Writable({
    highWaterMark: 16 * 1024,
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk.toString());
      if (released) callback();
      else callbacks.push(callback);
    },
  });
  return {
    stream,
    sent: () => chunks.join(''),
    release: () => {
      released = true;
      for (const callback of callbacks.splice(0)) callback();
    },
  };
}

describe('bounded writer', () => {
  it("drops a child's flood once the reader lags, but never airlock's own lines (a reload.ready among 10 MB of output)", () => {
    const { stream } = stuckStream();
    const write = boundedWriter(stream);
    const flood = 'flood '.repeat(20);
    let lines = 0;
    while (stream.writableLength <= OUTPUT_BUFFER_LIMIT && lines < 1_000_000) {
      write(flood, true);
      lines++;
    }
    for (let i = 0; i < 50_000; i++) write(flood, true);
    const before = stream.writableLength;
    assert.ok(before < OUTPUT_BUFFER_LIMIT + 1024, 'the flood was dropped past the limit');
    write('{"type":"reload.ready","generation":1}');
    assert.ok(stream.writableLength > before, "airlock's own line is written even though the reader lags");
    assert.ok(lines > 1000);
  });

  it("bounds airlock's own lines too, at four times the limit, and says how many lines it dropped once the reader is back", async () => {
    const { stream, sent, release } = stuckStream();
    const write = boundedWriter(stream);
    const own = `{"type":"notice","message":"${'x'.repeat(1000)}"}`;
    // Five times the limit's worth of airlock's own lines, with nobody reading.
    for (let bytes = 0; bytes < 5 * OUTPUT_BUFFER_LIMIT; bytes += own.length + 1) write(own);
    assert.ok(stream.writableLength > 3 * OUTPUT_BUFFER_LIMIT, "airlock's own lines go on past the limit for the flood");
    assert.ok(stream.writableLength <= 4 * OUTPUT_BUFFER_LIMIT + own.length + 1, 'and stop at four times it');
    release();
    await new Promise((resolve) => setImmediate(resolve));
    write('after');
    assert.match(sent(), /airlock: \d+ lines of output dropped: the reader of airlock's output was too slow\nafter\n$/);
  });
});
