import type { Command } from 'commander';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseDuration } from '../../config/duration.js';
import { listenAddress } from '../../config/schema.js';
import { AirlockError } from '../../errors.js';
import { ReleaseChannel } from '../../release/channel.js';
import { chooseRelease } from '../../release/choice.js';
import { DEFAULT_EXPIRY_MS, expire, initRepository, publish } from '../../release/repository.js';
import { rotateRoot } from '../../release/rotate.js';
import { packPlugin } from '../../release/plugin-pack.js';
import { serveRepository } from '../../release/serve.js';
import { atRepository } from '../../release/at-repository.js';
import { closeNatsConnections } from '../../release/nats/shared.js';
import { parseLocation } from '../../config/release-location.js';

const out = (line: string) => process.stdout.write(`${line}\n`);

/** A duration flag, or a USAGE_FLAG error naming it. */
function durationFlag(flag: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const ms = parseDuration(value);
  if (ms === undefined || ms <= 0) throw new AirlockError('USAGE_FLAG', `${flag} expects a duration with units such as 12h or 7d… got ${JSON.stringify(value)}; e.g. ${flag} 24h`);
  return ms;
}

function versionFlag(value: string): number {
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value)) || Number(value) < 1) throw new AirlockError('USAGE_FLAG', `--version expects a whole number of at least 1 (versions only grow), got ${JSON.stringify(value)}`);
  return Number(value);
}

/** --replicas for a nats:// repository's buckets: 1, 3 or 5 (JetStream's choices). */
function replicasFlag(value: string | undefined): number {
  if (value === undefined) return 1;
  if (!['1', '3', '5'].includes(value)) throw new AirlockError('USAGE_FLAG', `--replicas takes 1, 3 or 5 (JetStream replicas; 3 on a three-node cluster), got ${JSON.stringify(value)}`);
  return Number(value);
}

/** `airlock release init DIR|nats://… --keys KEYDIR [--root-threshold N] [--replicas N]` */
export async function releaseInit(dir: string, options: { keys: string; rootThreshold?: string; replicas?: string }): Promise<void> {
  const threshold = options.rootThreshold === undefined ? 1 : Number(options.rootThreshold);
  const replicas = replicasFlag(options.replicas);
  const { trust } = await atRepository(dir, 'airlock release init', (at) => initRepository(at, options.keys, { rootThreshold: threshold }), { create: true, replicas });
  out(`created release repository ${dir} (TUF 1.0: root, targets, snapshot, timestamp; a rollout role for fleet rollouts; Ed25519)`);
  out(`private keys in ${options.keys} (mode 0600; keep them out of version control)`);
  out(`give agents ${trust} as release.trust`);
}

/** `airlock release publish DIR|nats://… --keys KEYDIR --service S --channel C --version N FILE [--expires D] [--staged]` */
export async function releasePublish(dir: string, file: string, options: { keys?: string; service: string; channel: string; version: string; expires?: string; staged?: boolean; plugin?: string }): Promise<void> {
  const version = versionFlag(options.version);
  const timestampMs = durationFlag('--expires', options.expires, DEFAULT_EXPIRY_MS.timestamp);
  const { plugin } = options;
  if (plugin !== undefined && options.staged) throw new AirlockError('USAGE_FLAG', '--staged is for a service\'s own releases (fleet rollouts); a plugin release is taken by every host at once');
  // The file (or plugin directory) is checked here, before any connection: a typo costs nothing.
  const packed = plugin === undefined ? undefined : packPlugin(resolve(file), plugin);
  const absolute = packed?.file ?? resolve(file);
  try {
    const { target, sha256 } = await atRepository(dir, 'airlock release publish', (at) => publish(at, options.keys, absolute, { service: options.service, channel: options.channel, version, timestampMs, staged: options.staged, plugin }));
    const what = plugin === undefined ? options.service : `plugin ${plugin} of ${options.service}`;
    out(`published ${what} ${version} on ${options.channel}${options.staged ? ' (staged: canary hosts only, until `airlock fleet rollout` promotes it)' : ''}: ${target} (sha256 ${sha256})`);
  } finally {
    if (packed !== undefined) rmSync(packed.dir, { recursive: true, force: true });
  }
}

/** `airlock release expire DIR --keys KEYDIR [--in D]`: the cron job. */
export async function releaseExpire(dir: string, options: { keys?: string; in?: string }): Promise<void> {
  const validMs = durationFlag('--in', options.in, DEFAULT_EXPIRY_MS.timestamp);
  const { expires } = await atRepository(dir, 'airlock release expire', (at) => expire(at, options.keys, validMs));
  out(`re-signed the timestamp of ${dir}: valid until ${expires}`);
}

/** `airlock release rotate-root DIR --keys KEYDIR [--root-threshold N] [--also targets,snapshot,timestamp]` */
export async function releaseRotateRoot(dir: string, options: { keys: string; rootThreshold?: string; also?: string }): Promise<void> {
  const roles = ['targets', 'snapshot', 'timestamp'] as const;
  const also = (options.also ?? '').split(',').filter((role) => role !== '');
  const unknown = also.filter((role) => !(roles as readonly string[]).includes(role));
  if (unknown.length > 0) throw new AirlockError('USAGE_FLAG', `--also takes a comma-separated list of ${roles.join(', ')}; got ${unknown.join(', ')}`);
  const threshold = options.rootThreshold === undefined ? undefined : Number(options.rootThreshold);
  const { version } = await atRepository(dir, 'airlock release rotate-root', (at) => rotateRoot(at, options.keys, { rootThreshold: threshold, also: also as (typeof roles)[number][] }));
  out(`wrote root ${version} of ${dir}, signed by the old and the new root keys; old key files are in ${options.keys}/retired/`);
  out('agents walk from the root they trust to this one on their next check; new agents can still be given 1.root.json');
}

/** `airlock release verify DIR|URL --trust ROOT.json --service S --channel C`: what an agent would accept; exit 1 if nothing. */
export async function releaseVerify(from: string, options: { trust: string; service: string; channel: string }): Promise<void> {
  const cacheDir = mkdtempSync(join(tmpdir(), 'airlock-verify-'));
  try {
    const channel = new ReleaseChannel({ from, trust: options.trust, cacheDir, waitForServer: false });
    const releases = await channel.releases(options.service, options.channel);
    const state = await channel.fleetState(options.service, options.channel);
    // What a host off any canary runs: the head (an empty agent state: nothing applied, nothing bad).
    const { release: head } = chooseRelease(releases, state, '', { highest: 0, applied: undefined, bad: {} }, { from, service: options.service, channel: options.channel });
    await channel.download(head, join(cacheDir, 'target'));
    out(`${options.service} ${head.version} on ${options.channel}: ${head.target.path}, ${head.target.length} bytes, sha256 ${head.sha256}: verified (an agent that has not applied a higher version would accept it)`);
    const staged = releases.filter((release) => release.staged === true && release.version > head.version).map((release) => release.version);
    if (staged.length > 0) out(`staged (canary hosts of a fleet rollout only): ${staged.join(', ')}`);
    if (state?.canary !== undefined) out(`fleet rollout of ${state.canary.version}: step ${state.canary.step + 1} of ${state.canary.steps.length} (${state.canary.steps[state.canary.step]} %), canary hosts ${state.canary.hosts.join(', ')}`);
  } finally {
    rmSync(cacheDir, { recursive: true, force: true });
    await closeNatsConnections();
  }
}

/** `airlock release serve DIR --listen ADDR`: until SIGINT/SIGTERM. */
export async function releaseServe(dir: string, options: { listen: string }): Promise<void> {
  if (parseLocation(dir).kind !== 'dir') throw new AirlockError('USAGE_FLAG', `release serve serves a repository directory over HTTP; ${dir} is not one (a nats:// repository is read by agents directly)`);
  const parsed = listenAddress.safeParse(options.listen);
  if (!parsed.success) throw new AirlockError('USAGE_FLAG', `--listen: ${parsed.error.issues[0]?.message ?? 'not an address'}`);
  const { host, port } = parsed.data;
  const server = await serveRepository(dir, host, port).catch((error: NodeJS.ErrnoException) => {
    throw new AirlockError('USAGE_FLAG', `--listen ${options.listen}: ${error.code === 'EADDRINUSE' ? 'the address is in use' : error.message}`);
  });
  out(`serving ${dir} on http://${host}:${port}/ (agents: release.from: http://${host}:${port}/)`);
  await new Promise<void>((done) => {
    const stop = () => server.close(() => done());
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}

/** The `airlock release …` commands. */
export function registerRelease(program: Command): void {
  const release = program.command('release').description('signed release channels (TUF): create, publish, keep fresh, verify, serve (docs/releases.md)');
  release
    .command('init')
    .description('create a release repository and its keys (root, targets, snapshot, timestamp; Ed25519)')
    .argument('<dir>', 'the repository: a directory (metadata/ and targets/), or nats://HOST:PORT/REPO (JetStream buckets)')
    .requiredOption('--keys <dir>', 'where the private keys are written (mode 0600) with 1.root.json, the trust file for agents')
    .option('--root-threshold <n>', 'root keys needed to sign a new root (default 1)')
    .option('--replicas <n>', 'nats://: JetStream replicas of its buckets, 1, 3 or 5 (default 1)')
    .action((dir: string, options: { keys: string; rootThreshold?: string; replicas?: string }) => releaseInit(dir, options));
  release
    .command('publish')
    .description('add FILE as a release of a service on a channel, and re-sign targets, snapshot and timestamp')
    .argument('<dir>', 'the repository: a directory or nats://HOST:PORT/REPO')
    .argument('<file>', 'the release: a binary, a .tar.gz, or with --plugin a plugin directory')
    .option('--keys <dir>', 'the key directory (or AIRLOCK_RELEASE_KEY_TARGETS, _SNAPSHOT, _TIMESTAMP)')
    .requiredOption('--service <name>', 'the service it is for')
    .requiredOption('--channel <name>', 'the channel, e.g. stable')
    .requiredOption('--version <n>', 'a whole number above every earlier version of this service and channel')
    .option('--expires <duration>', 'how long the new timestamp is valid (default 1d)')
    .option('--staged', 'add it without making it the head: only a fleet rollout\'s canary hosts run it (docs/fleet.md)')
    .option('--plugin <name>', 'FILE is the directory of plugin NAME (with its plugin.json): published as a .tar.gz, versions counted per plugin (docs/plugins.md)')
    .action((dir: string, file: string, options: { keys?: string; service: string; channel: string; version: string; expires?: string; staged?: boolean; plugin?: string }) => releasePublish(dir, file, options));
  release
    .command('expire')
    .description('re-sign the timestamp so the channel stays fresh (run it from cron)')
    .argument('<dir>', 'the repository: a directory or nats://HOST:PORT/REPO')
    .option('--keys <dir>', 'the key directory (or AIRLOCK_RELEASE_KEY_TIMESTAMP)')
    .option('--in <duration>', 'how long the new timestamp is valid (default 1d)')
    .action((dir: string, options: { keys?: string; in?: string }) => releaseExpire(dir, options));
  release
    .command('rotate-root')
    .description('new root keys (and optionally new keys for other roles): root N+1 signed by the old and the new keys')
    .argument('<dir>', 'the repository: a directory or nats://HOST:PORT/REPO')
    .requiredOption('--keys <dir>', 'the key directory: old keys move to retired/, new ones take their names')
    .option('--root-threshold <n>', 'root keys the new root needs (default: as now)')
    .option('--also <roles>', 'also replace these keys: a comma-separated list of targets, snapshot, timestamp')
    .action((dir: string, options: { keys: string; rootThreshold?: string; also?: string }) => releaseRotateRoot(dir, options));
  release
    .command('verify')
    .description('what an agent would accept from a channel, verified by tuf-js; exit 1 and why if nothing')
    .argument('<from>', 'a repository directory, an http(s) URL or nats://HOST:PORT/REPO')
    .requiredOption('--trust <file>', 'the trusted root (KEYDIR/1.root.json)')
    .requiredOption('--service <name>', 'the service')
    .requiredOption('--channel <name>', 'the channel')
    .action((from: string, options: { trust: string; service: string; channel: string }) => releaseVerify(from, options));
  release
    .command('serve')
    .description('serve a repository over HTTP (the embedded channel); clients verify everything themselves')
    .argument('<dir>', 'the repository directory')
    .requiredOption('--listen <addr>', 'host:port, :port or port (loopback by default)')
    .action((dir: string, options: { listen: string }) => releaseServe(dir, options));
}
