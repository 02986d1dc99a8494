import { statfsSync } from 'node:fs';

/**
 * File systems (by their statfs magic number) where the kernel's file events may not
 * arrive for changes made elsewhere: a network share, a VM's or Docker Desktop's share of
 * the host's files, WSL's Windows drives. A local disk, tmpfs and a container's own
 * overlay have events, so they are not listed (saying so there would only be noise).
 */
const EVENTLESS: ReadonlyMap<number, string> = new Map([
  [0x6969, 'nfs'],
  [0x01021997, '9p (WSL drvfs, a VM share)'],
  [0xff534d42, 'cifs (an SMB share)'],
  [0xfe534d42, 'smb2 (an SMB share)'],
  [0x517b, 'smb'],
  [0x65735546, 'fuse (sshfs, a Docker Desktop or VM share)'],
  [0x786f4256, 'vboxsf (a VirtualBox share)'],
  [0x564c, 'ncpfs'],
  [0x5346414f, 'afs'],
  [0x47504653, 'gpfs'],
  [0x00c36400, 'ceph'],
]);

/** The name of a file system type where events may not arrive, or undefined. */
export function fileSystemNamed(type: number): string | undefined {
  return EVENTLESS.get(type);
}

/**
 * What kind of file system `path` is on, when it is one where native events may never
 * arrive (so airlock can suggest `watch.poll` once instead of silently never reloading).
 *
 * @example
 *   eventlessFileSystem('/mnt/c/src/app'); // '9p (WSL drvfs, a VM share)'
 */
export function eventlessFileSystem(path: string): string | undefined {
  try {
    return fileSystemNamed(Number(statfsSync(path).type));
  } catch {
    return undefined;
  }
}
