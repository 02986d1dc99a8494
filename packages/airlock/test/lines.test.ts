import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { cutNote, forEachLine, MAX_LINE } from '../src/supervise/lines.ts';

function linesOf(chunks: (string | Buffer)[], maxLine?: number): Promise<string[]> {
  const stream = new PassThrough();
  const lines: string[] = [];
  forEachLine(stream, (line) => lines.push(line), maxLine);
  return new Promise((resolve) => {
    stream.on('end', () => resolve(lines));
    for (const chunk of chunks) stream.write(chunk);
    stream.end();
  });
}

describe('output lines', () => {
  it('splits lines across chunks, drops \\r, keeps a last line without a newline', async () => {
    assert.deepEqual(await linesOf(['a\r\nb', 'c\n', '\nd']), ['a', 'bc', '', 'd']);
  });

  it('keeps a UTF-8 character split between chunks whole', async () => {
    const euro = Buffer.from('€\n');
    assert.deepEqual(await linesOf([euro.subarray(0, 1), euro.subarray(1)]), ['€']);
  });

  it('cuts a 10 MB line without a newline at MAX_LINE and says how much it dropped', async () => {
    const chunk = 'y'.repeat(64 * 1024);
    const lines = await linesOf([...Array(160).fill(chunk), '\nnext\n']);
    assert.equal(lines.length, 2);
    assert.equal(lines[0], `${'y'.repeat(MAX_LINE)}${cutNote(160 * 64 * 1024 - MAX_LINE)}`);
    assert.equal(lines[1], 'next');
  });

  it('starts the next line fresh after a cut one', async () => {
    assert.deepEqual(await linesOf(['abcdefgh\nxy\n'], 4), [`abcd${cutNote(4)}`, 'xy']);
  });
});
