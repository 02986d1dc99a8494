import { mkdirSync, renameSync, rmSync } from 'node:fs';
import { dirname, isAbsolute, normalize, posix } from 'node:path';
import { list, extract, type ReadEntry } from 'tar';
import { AirlockError } from '../errors.js';
import { syncDir } from '../atomic-file.js';

/** Entry types a release may hold: files, directories, and links that stay inside it. */
const ALLOWED = new Set(['File', 'OldFile', 'ContiguousFile', 'Directory', 'SymbolicLink', 'Link']);

export interface UnpackLimits {
  /** Bytes of all files together. */
  readonly maxBytes: number;
  readonly maxEntries: number;
}

export const DEFAULT_UNPACK_LIMITS: UnpackLimits = { maxBytes: 1024 * 1024 * 1024, maxEntries: 100_000 };

/** Whether a path inside the archive (or a link's target, from its entry's directory) stays inside its root. */
function staysInside(path: string, from = '.'): boolean {
  if (isAbsolute(path) || posix.isAbsolute(path)) return false;
  const resolved = posix.normalize(posix.join(from, path));
  return resolved !== '..' && !resolved.startsWith('../');
}

/** Why an entry is refused, or undefined when it may be unpacked. */
function refusal(entry: ReadEntry): string | undefined {
  const path = entry.path;
  if (!staysInside(path)) return `${JSON.stringify(path)} leads outside the release (an absolute path or ..)`;
  if (!ALLOWED.has(entry.type)) return `${JSON.stringify(path)} is a ${entry.type}: only files, directories and links inside the release are unpacked`;
  if ((entry.type === 'SymbolicLink' || entry.type === 'Link') && !staysInside(entry.linkpath ?? '', entry.type === 'Link' ? '.' : posix.dirname(path))) {
    return `${JSON.stringify(path)} links to ${JSON.stringify(entry.linkpath)}, outside the release`;
  }
  return undefined;
}

/**
 * Unpacks a verified `.tar.gz` release into `into` (a new directory, made by renaming a
 * finished temp directory into place). Every entry is checked first, before anything is
 * written: an absolute path, `..`, a link leading out, a device or FIFO, more than
 * `maxEntries` entries or `maxBytes` bytes refuse the whole release (RELEASE_REFUSED),
 * naming the entry.
 *
 * @example
 *   await unpackRelease('.airlock/store/sha256/ab12…', '.airlock/store/unpacked/ab12…');
 */
export async function unpackRelease(archive: string, into: string, limits: UnpackLimits = DEFAULT_UNPACK_LIMITS): Promise<void> {
  let entries = 0;
  let bytes = 0;
  const problems: string[] = [];
  await list({
    file: archive,
    strict: true,
    onReadEntry: (entry) => {
      entries += 1;
      bytes += entry.size ?? 0;
      const why = refusal(entry);
      if (why !== undefined && problems.length < 10) problems.push(why);
    },
  }).catch((error: Error) => problems.push(`not a readable .tar.gz: ${error.message}`));
  if (entries > limits.maxEntries) problems.push(`${entries} entries, more than the ${limits.maxEntries} allowed`);
  if (bytes > limits.maxBytes) problems.push(`${bytes} bytes unpacked, more than the ${limits.maxBytes} allowed`);
  if (problems.length > 0) throw new AirlockError('RELEASE_REFUSED', `${archive}: refused to unpack: ${problems.join('; ')}`, { details: problems });
  const temp = `${normalize(into)}.${process.pid}.unpacking`;
  rmSync(temp, { recursive: true, force: true });
  mkdirSync(temp, { recursive: true });
  try {
    // Checked above; preservePaths stays off and links are checked again by tar itself.
    await extract({ file: archive, cwd: temp, strict: true, preservePaths: false, preserveOwner: false });
    rmSync(into, { recursive: true, force: true });
    renameSync(temp, into);
    syncDir(dirname(into));
  } finally {
    rmSync(temp, { recursive: true, force: true });
  }
}

/** Whether a release file is an archive to unpack (by its published name). */
export function isArchive(name: string): boolean {
  return name.endsWith('.tar.gz') || name.endsWith('.tgz');
}

