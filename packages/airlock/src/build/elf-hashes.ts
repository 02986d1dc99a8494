import { open, type FileHandle } from 'node:fs/promises';

/** The symbol prefix under which Go's linker keeps each package's hash (runtime.plugin_lastmoduleinit compares them). */
const HASH_PREFIX = 'go.link.pkghashbytes.';
const SHT_DYNSYM = 11;
const SHN_UNDEF = 0;
/** Index values from here on are reserved (absolute, common, extended): not a section holding data. */
const SHN_LORESERVE = 0xff00;

/** Why an ELF file could not be read as a Go host or plugin: said in full, for the user. */
export class ElfError extends Error {}

interface Section {
  readonly type: number;
  readonly addr: bigint;
  readonly offset: bigint;
  readonly size: bigint;
  readonly link: number;
}

/** Little- or big-endian reads of 32- or 64-bit ELF fields from a buffer. */
class Fields {
  constructor(
    private readonly buf: Buffer,
    private readonly little: boolean,
  ) {}
  u16(at: number): number {
    return this.little ? this.buf.readUInt16LE(at) : this.buf.readUInt16BE(at);
  }
  u32(at: number): number {
    return this.little ? this.buf.readUInt32LE(at) : this.buf.readUInt32BE(at);
  }
  u64(at: number): bigint {
    return this.little ? this.buf.readBigUInt64LE(at) : this.buf.readBigUInt64BE(at);
  }
  /** An address/offset/size field: 8 bytes in ELF64, 4 in ELF32. */
  word(at: number, is64: boolean): bigint {
    return is64 ? this.u64(at) : BigInt(this.u32(at));
  }
}

async function readAt(file: FileHandle, position: bigint, length: number, path: string, size: number): Promise<Buffer> {
  // Offsets and sizes come from the file itself: a corrupt one must not make airlock allocate gigabytes.
  if (position < 0n || length < 0 || !Number.isSafeInteger(length) || Number(position) + length > size) {
    throw new ElfError(`${path} is corrupt or cut short (${length} bytes at ${position} of ${size})`);
  }
  const buf = Buffer.alloc(length);
  const { bytesRead } = await file.read(buf, 0, length, Number(position));
  if (bytesRead !== length) throw new ElfError(`${path} is cut short (wanted ${length} bytes at ${position})`);
  return buf;
}

/**
 * The package hashes a Go ELF file carries (a plugin, or a host that imports "plugin"),
 * by package path, hex-encoded: the same ELF dynamic symbols go/airlock/plugincheck reads
 * with debug/elf, so airlock can check a plugin build against the running binary before
 * the app ever sees it. Only the few ranges needed are read, never the whole binary.
 * A file with no dynamic symbols gives an empty map (a Go program that does not import
 * "plugin" is linked statically).
 *
 * @example
 *   const host = await goPackageHashes('bin/greeter.g3');
 *   host.get('runtime'); // '7c1e…'
 */
export async function goPackageHashes(path: string): Promise<Map<string, string>> {
  const file = await open(path, 'r').catch((error: NodeJS.ErrnoException) => {
    throw new ElfError(`${path} cannot be read: ${error.code ?? error.message}`);
  });
  try {
    const { size: fileSize } = await file.stat();
    const read = (position: bigint, length: number) => readAt(file, position, length, path, fileSize);
    const ident = Buffer.alloc(64);
    const { bytesRead } = await file.read(ident, 0, 64, 0);
    if (bytesRead < 64 || ident.readUInt32BE(0) !== 0x7f454c46) throw new ElfError(`${path} is not an ELF file`);
    const is64 = ident[4] === 2;
    const f = new Fields(ident, ident[5] === 1);
    const shoff = f.word(is64 ? 0x28 : 0x20, is64);
    const shentsize = f.u16(is64 ? 0x3a : 0x2e);
    const shnum = f.u16(is64 ? 0x3c : 0x30);
    if (shnum > 0 && shentsize < (is64 ? 0x40 : 0x28)) throw new ElfError(`${path} is corrupt: section headers of ${shentsize} bytes`);
    const table = new Fields(await read(shoff, shentsize * shnum), ident[5] === 1);
    const sections: Section[] = [];
    for (let i = 0; i < shnum; i++) {
      const at = i * shentsize;
      sections.push({
        type: table.u32(at + 4),
        addr: table.word(at + (is64 ? 0x10 : 0x0c), is64),
        offset: table.word(at + (is64 ? 0x18 : 0x10), is64),
        size: table.word(at + (is64 ? 0x20 : 0x14), is64),
        link: table.u32(at + (is64 ? 0x28 : 0x18)),
      });
    }
    const dynsym = sections.find((s) => s.type === SHT_DYNSYM);
    const hashes = new Map<string, string>();
    if (dynsym === undefined) return hashes;
    const strtab = sections[dynsym.link];
    if (strtab === undefined) throw new ElfError(`${path}: its dynamic symbols name no string table`);
    const names = await read(strtab.offset, Number(strtab.size));
    const symbols = new Fields(await read(dynsym.offset, Number(dynsym.size)), ident[5] === 1);
    const entry = is64 ? 24 : 16;
    for (let at = 0; at + entry <= Number(dynsym.size); at += entry) {
      const nameAt = symbols.u32(at);
      const end = names.indexOf(0, nameAt);
      const name = names.toString('latin1', nameAt, end < 0 ? names.length : end);
      if (!name.startsWith(HASH_PREFIX)) continue;
      const value = is64 ? symbols.u64(at + 8) : BigInt(symbols.u32(at + 4));
      const size = is64 ? symbols.u64(at + 16) : BigInt(symbols.u32(at + 8));
      const shndx = symbols.u16(at + (is64 ? 6 : 14));
      const section = sections[shndx];
      if (shndx === SHN_UNDEF || shndx >= SHN_LORESERVE || section === undefined) continue;
      const data = await read(section.offset + (value - section.addr), Number(size));
      hashes.set(name.slice(HASH_PREFIX.length), data.toString('hex'));
    }
    return hashes;
  } catch (error) {
    // A field pointing past what was read: the file is not what its header says.
    if (error instanceof RangeError) throw new ElfError(`${path} is corrupt: ${error.message}`);
    throw error;
  } finally {
    await file.close();
  }
}

/**
 * Predicts plugin.Open of a plugin inside a host from their package hashes: undefined when
 * the runtime would accept it, else what it would say (runtime first: a different Go
 * version or build flags show there and say the most).
 *
 * @example
 *   const refusal = pluginMismatch(await goPackageHashes(host), await goPackageHashes(plugin));
 *   // 'it was built with a different version of package example.com/app/greeting than the host'
 */
export function pluginMismatch(host: ReadonlyMap<string, string>, plugin: ReadonlyMap<string, string>): string | undefined {
  if (host.size === 0) return 'the host binary carries no package hashes: a Go program opens plugins only when it imports "plugin" (go/airlock/plugins does)';
  if (plugin.size === 0) return 'the plugin carries no package hashes: it was not built with -buildmode=plugin';
  const packages = [...plugin.keys()].sort((a, b) => (a === 'runtime' ? -1 : b === 'runtime' ? 1 : a.localeCompare(b)));
  for (const pkg of packages) {
    const hostHash = host.get(pkg);
    if (hostHash === undefined || hostHash === plugin.get(pkg)) continue;
    const why = pkg === 'runtime' ? ' (another Go version or other build flags, such as -trimpath or -gcflags)' : '';
    return `it was built with a different version of package ${pkg} than the host${why}`;
  }
  return undefined;
}
