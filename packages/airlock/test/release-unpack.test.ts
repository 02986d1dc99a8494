import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { create } from 'tar';
import { unpackRelease } from '../src/release/unpack.ts';

const root = mkdtempSync(join(tmpdir(), 'airlock-unpack-'));
after(() => rmSync(root, { recursive: true, force: true }));
let count = 0;

/** A .tar.gz of `files` (paths as given, kept as they are: absolute and .. included) made in a fresh directory. */
async function archive(make: (dir: string) => string[]): Promise<{ file: string; into: string }> {
  const base = join(root, `a${++count}`);
  const src = join(base, 'src', 'app');
  mkdirSync(src, { recursive: true });
  const entries = make(src);
  const file = join(base, 'release.tar.gz');
  await create({ file, gzip: true, cwd: src, preservePaths: true, portable: true }, entries);
  return { file, into: join(base, 'unpacked') };
}

describe('unpacking a .tar.gz release', () => {
  it('unpacks files, directories and a link that stays inside', async () => {
    const { file, into } = await archive((dir) => {
      mkdirSync(join(dir, 'lib'));
      writeFileSync(join(dir, 'server.js'), 'ok');
      writeFileSync(join(dir, 'lib', 'a.js'), 'a');
      symlinkSync('../server.js', join(dir, 'lib', 'main.js'));
      return ['server.js', 'lib'];
    });
    await unpackRelease(file, into);
    assert.equal(readFileSync(join(into, 'server.js'), 'utf8'), 'ok');
    assert.equal(readFileSync(join(into, 'lib', 'main.js'), 'utf8'), 'ok');
  });

  const hostile: [string, (dir: string) => string[], RegExp][] = [
    ['a path with ..', (dir) => (writeFileSync(join(dir, '..', 'outside.txt'), 'x'), ['../outside.txt']), /"\.\.\/outside\.txt" leads outside the release/],
    ['an absolute path', (dir) => (writeFileSync(join(dir, 'abs.txt'), 'x'), [join(dir, 'abs.txt')]), /leads outside the release \(an absolute path or \.\.\)/],
    ['a symlink out', (dir) => (symlinkSync('/etc/passwd', join(dir, 'passwd')), ['passwd']), /"passwd" links to "\/etc\/passwd", outside the release/],
    ['a relative symlink out', (dir) => (symlinkSync('../../../../etc', join(dir, 'etc')), ['etc']), /"etc" links to "\.\.\/\.\.\/\.\.\/\.\.\/etc", outside the release/],
  ];
  for (const [what, make, message] of hostile) {
    it(`refuses ${what}, writing nothing`, async () => {
      const { file, into } = await archive(make);
      await assert.rejects(unpackRelease(file, into), { code: 'RELEASE_REFUSED', message });
      assert.equal(existsSync(into), false);
    });
  }

  it('refuses more bytes or entries than its caps', async () => {
    const { file, into } = await archive((dir) => {
      writeFileSync(join(dir, 'big'), Buffer.alloc(64 * 1024));
      writeFileSync(join(dir, 'small'), 'x');
      return ['big', 'small'];
    });
    await assert.rejects(unpackRelease(file, into, { maxBytes: 1024, maxEntries: 10 }), { message: /65537 bytes unpacked, more than the 1024 allowed/ });
    await assert.rejects(unpackRelease(file, into, { maxBytes: 1e9, maxEntries: 1 }), { message: /2 entries, more than the 1 allowed/ });
  });

  it('refuses a file that is not a .tar.gz', async () => {
    const file = join(root, 'not.tar.gz');
    writeFileSync(file, 'plain text, no archive');
    await assert.rejects(unpackRelease(file, join(root, 'nothing')), { code: 'RELEASE_REFUSED', message: /refused to unpack/ });
  });
});
