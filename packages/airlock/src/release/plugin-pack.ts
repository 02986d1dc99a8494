import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create } from 'tar';
import { AirlockError } from '../errors.js';

/**
 * A plugin directory as one release file: `<name>.tar.gz` of its contents (plugin.json at
 * the top), in a temp directory the caller removes. The manifest must be there and name
 * the plugin it is published as, so an agent never unpacks one plugin under another's name.
 *
 * @example
 *   const { file, cleanup } = packPlugin('plugins/greet', 'greet');
 *   publish(repo, keys, file, { service: 'api', channel: 'stable', version: 3, plugin: 'greet' });
 *   cleanup();
 */
export function packPlugin(dir: string, name: string): { file: string; dir: string } {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new AirlockError('USAGE_FLAG', `--plugin ${name}: ${dir} is not a directory; give the plugin's directory (the one holding plugin.json)`);
  const manifestFile = join(dir, 'plugin.json');
  let manifest: { name?: unknown };
  try {
    manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as { name?: unknown };
  } catch (error) {
    throw new AirlockError('USAGE_FLAG', `--plugin ${name}: ${manifestFile}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing: a plugin directory needs a plugin.json' : `not valid JSON: ${(error as Error).message}`}`);
  }
  if (manifest.name !== name) throw new AirlockError('USAGE_FLAG', `--plugin ${name}: ${manifestFile} names the plugin ${JSON.stringify(manifest.name)}; publish it as --plugin ${String(manifest.name)}, or fix its name`);
  const out = mkdtempSync(join(tmpdir(), 'airlock-plugin-pack-'));
  const file = join(out, `${name}.tar.gz`);
  // portable: no owner names or ids of this machine in the archive.
  create({ gzip: true, cwd: dir, portable: true, sync: true, file }, readdirSync(dir));
  return { file, dir: out };
}
