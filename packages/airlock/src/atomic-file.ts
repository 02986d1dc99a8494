import { closeSync, fsyncSync, openSync, renameSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * Writes a file so that a reader (or a crash) sees the old contents or the new, never a
 * part: a temp file beside it, fsync, rename, fsync of the directory.
 *
 * @example
 *   writeAtomic('.airlock/release/api/state.json', JSON.stringify(state));
 */
export function writeAtomic(path: string, data: string | Buffer, mode = 0o644): void {
  const temp = `${path}.${process.pid}.tmp`;
  const fd = openSync(temp, 'w', mode);
  try {
    writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temp, path);
  syncDir(dirname(path));
}

/** fsync of a directory: the rename itself survives a power cut. */
export function syncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
