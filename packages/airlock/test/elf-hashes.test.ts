import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ElfError, goPackageHashes, pluginMismatch } from '../src/build/elf-hashes.ts';

const canBuildPlugins = spawnSync('go', ['version']).status === 0 && spawnSync('gcc', ['--version']).status === 0;

/**
 * Real builds: a host that imports "plugin", plugins built against it, a plugin built
 * after the shared package's API changed, and a host that cannot open plugins. Whatever
 * airlock predicts must be what plugin.Open does in the host (the host prints both).
 */
describe('goPackageHashes and pluginMismatch on real Go builds', { skip: canBuildPlugins ? false : 'needs go and gcc (-buildmode=plugin)' }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'airlock-elf-'));
  const file = (path: string, text: string) => {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), text);
  };
  const go = (...args: string[]) => execFileSync('go', args, { cwd: dir, env: { ...process.env, GOFLAGS: '-mod=mod', GOPROXY: 'off' }, stdio: 'pipe' });
  const opens = (plugin: string) => execFileSync(join(dir, 'host.bin'), [plugin], { encoding: 'utf8' }).trim();

  before(() => {
    file('go.mod', 'module example.com/elf\n\ngo 1.19\n');
    file('shared/shared.go', 'package shared\n\nconst Prefix = "hello"\n');
    file('p1/main.go', 'package main\n\nimport "example.com/elf/shared"\n\nfunc Hello(n string) string { return shared.Prefix + n }\n');
    file('p2/main.go', 'package main\n\nimport "example.com/elf/shared"\n\nfunc Hello(n string) string { return shared.Prefix + n }\n');
    file('static/main.go', 'package main\n\nfunc main() {}\n');
    file(
      'host/main.go',
      'package main\n\nimport (\n\t"fmt"\n\t"os"\n\t"plugin"\n\n\t"example.com/elf/shared"\n)\n\nfunc main() {\n\t_ = shared.Prefix\n\t_, err := plugin.Open(os.Args[1])\n\tfmt.Println(err == nil)\n}\n',
    );
    go('build', '-o', 'host.bin', './host');
    go('build', '-o', 'static.bin', './static');
    go('build', '-buildmode=plugin', '-o', 'fits.so', './p1');
    // The shared package grows API after the host was built: the plugin no longer fits it.
    file('shared/shared.go', 'package shared\n\nconst Prefix = "hello"\n\n// Excited is new API.\nconst Excited = true\n');
    go('build', '-buildmode=plugin', '-o', 'unfit.so', './p2');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('predicts that a plugin built against the host opens', async () => {
    const host = await goPackageHashes(join(dir, 'host.bin'));
    assert.ok(host.has('runtime') && host.has('example.com/elf/shared'), [...host.keys()].join(', '));
    assert.equal(pluginMismatch(host, await goPackageHashes(join(dir, 'fits.so'))), undefined);
    assert.equal(opens(join(dir, 'fits.so')), 'true');
  });

  it('names the shared package whose API changed, as plugin.Open refuses it', async () => {
    const refusal = pluginMismatch(await goPackageHashes(join(dir, 'host.bin')), await goPackageHashes(join(dir, 'unfit.so')));
    assert.equal(refusal, 'it was built with a different version of package example.com/elf/shared than the host');
    assert.equal(opens(join(dir, 'unfit.so')), 'false');
  });

  it('says that a host without "plugin" cannot open any, and refuses what is not ELF', async () => {
    const refusal = pluginMismatch(await goPackageHashes(join(dir, 'static.bin')), await goPackageHashes(join(dir, 'fits.so')));
    assert.match(refusal ?? '', /host binary carries no package hashes: .*imports "plugin"/);
    await assert.rejects(goPackageHashes(join(dir, 'go.mod')), (error: unknown) => error instanceof ElfError && /go\.mod is not an ELF file/.test(error.message));
    await assert.rejects(goPackageHashes(join(dir, 'missing.so')), /missing\.so cannot be read: ENOENT/);
  });

  it('refuses a cut-short or corrupted plugin with an ElfError, never reading past the file or allocating what its fields claim', async () => {
    const real = readFileSync(join(dir, 'fits.so'));
    const cut = join(dir, 'cut.so');
    writeFileSync(cut, real.subarray(0, 4096));
    await assert.rejects(goPackageHashes(cut), (error: unknown) => error instanceof ElfError && /cut\.so is corrupt or cut short/.test(error.message));
    // Random damage after the header, many times: an ElfError or a result, never another throw.
    let seed = 7;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const damaged = join(dir, 'damaged.so');
    // The ELF header, and the section headers at the end of the file (where .dynsym and its strings are found).
    const shoff = Number(real.readBigUInt64LE(0x28));
    const spot = () => (random() < 0.5 ? 16 + Math.floor(random() * 48) : shoff + Math.floor(random() * (real.length - shoff)));
    for (let round = 0; round < 300; round++) {
      const copy = Buffer.from(real);
      for (let i = 0; i < 8; i++) copy[spot()] = Math.floor(random() * 256);
      writeFileSync(damaged, copy);
      await goPackageHashes(damaged).catch((error: unknown) => assert.ok(error instanceof ElfError, String(error)));
    }
  });
});
