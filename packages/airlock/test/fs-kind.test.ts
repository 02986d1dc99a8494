import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { describe, it } from 'node:test';
import { eventlessFileSystem, fileSystemNamed } from '../src/watch/fs-kind.ts';

describe('file systems where native events may not arrive', () => {
  it('names network and foreign file systems by their statfs type, and nothing else', () => {
    assert.equal(fileSystemNamed(0x6969), 'nfs');
    assert.equal(fileSystemNamed(0x01021997), '9p (WSL drvfs, a VM share)');
    assert.equal(fileSystemNamed(0xff534d42), 'cifs (an SMB share)');
    assert.equal(fileSystemNamed(0x65735546), 'fuse (sshfs, a Docker Desktop or VM share)');
    assert.equal(fileSystemNamed(0xef53), undefined, 'ext4 has events');
    assert.equal(fileSystemNamed(0x794c7630), undefined, 'overlayfs (a container\'s own files) has events');
  });

  it('says nothing for a local disk', () => {
    assert.equal(eventlessFileSystem(tmpdir()), undefined);
  });
});
