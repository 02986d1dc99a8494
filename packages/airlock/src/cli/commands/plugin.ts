import type { Command } from 'commander';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AirlockError } from '../../errors.js';
import { ReleaseChannel } from '../../release/channel.js';
import { closeNatsConnections } from '../../release/nats/shared.js';
import { describeGrants, fetchPlugin, isolationRefusal, newestPlugins } from '../../release/plugin-channel.js';

const out = (line: string) => process.stdout.write(`${line}\n`);

/**
 * `airlock plugin verify DIR|URL|nats://… --trust ROOT.json --service S --channel C`: what
 * a host following that channel would install (each plugin's newest release, verified,
 * unpacked and checked as airlock does) and what it may do there; exit 1 when any is refused.
 */
export async function pluginVerify(from: string, options: { trust: string; service: string; channel: string }): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'airlock-plugin-verify-'));
  try {
    const channel = new ReleaseChannel({ from, trust: options.trust, cacheDir: join(work, 'metadata'), waitForServer: false });
    const newest = await newestPlugins(channel, options.service, options.channel);
    if (newest.size === 0) throw new AirlockError('RELEASE_NONE', `${from} has no plugin of ${options.service} on channel ${options.channel}; publish one with \`airlock release publish … --plugin NAME DIR\``);
    const refused: string[] = [];
    for (const [name, release] of newest) {
      try {
        const manifest = await fetchPlugin(channel, release, join(work, `${name}.tar.gz`), join(work, name));
        const refusal = isolationRefusal(manifest);
        if (refusal !== undefined) refused.push(name);
        out(`plugin ${name} ${release.version} (${String(manifest.version ?? '?')}) on ${options.channel}: sha256 ${release.sha256}, verified; ${refusal ?? `runs sandboxed with: ${describeGrants(manifest)}`}`);
      } catch (error) {
        refused.push(name);
        out(`plugin ${name} ${release.version}: refused: ${(error as Error).message}`);
      }
    }
    if (refused.length > 0) throw new AirlockError('RELEASE_REFUSED', `${refused.length} of ${newest.size} plugins would be refused: ${refused.join(', ')}`);
  } finally {
    rmSync(work, { recursive: true, force: true });
    await closeNatsConnections();
  }
}

/** The `airlock plugin …` commands. */
export function registerPlugin(program: Command): void {
  const plugin = program.command('plugin').description('plugins from signed channels (docs/plugins.md)');
  plugin
    .command('verify')
    .description('what a host following the channel would install, and what each plugin may do; exit 1 if any is refused')
    .argument('<from>', 'the repository: a directory, an http(s) URL or nats://HOST:PORT/REPO')
    .requiredOption('--trust <file>', 'the root metadata trusted first (KEYDIR/1.root.json)')
    .requiredOption('--service <name>', 'the service whose plugins to check')
    .requiredOption('--channel <name>', 'the channel, e.g. stable')
    .action((from: string, options: { trust: string; service: string; channel: string }) => pluginVerify(from, options));
}
