import type { Command } from 'commander';
import { hostname } from 'node:os';
import { parseDuration } from '../../config/duration.js';
import { parseLocation, type NatsLocation } from '../../config/release-location.js';
import { AirlockError } from '../../errors.js';
import { FleetRollout } from '../../fleet/controller.js';
import { fleetStatus, formatFleet } from '../../fleet/status.js';
import { closeNatsConnections } from '../../release/nats/shared.js';

const out = (line: string) => process.stdout.write(`${line}\n`);

/** `--channel nats://HOST:PORT/REPO/CHANNEL`: the repository and the channel's name in one. */
function channelFlag(value: string, required: boolean): { location: NatsLocation; channel: string | undefined } {
  const slash = value.lastIndexOf('/');
  const tail = value.slice(slash + 1);
  const repoPart = value.slice(0, slash);
  // nats://h:p/REPO/CHANNEL: the last segment is the channel when there are two.
  const twoSegments = /^[a-z+]+:\/\/[^/]+\/[^/]+$/.test(repoPart);
  const location = parseLocation(twoSegments ? repoPart : value, '--channel');
  if (location.kind !== 'nats') throw new AirlockError('USAGE_FLAG', `--channel ${value}: fleet commands work on a nats:// repository, e.g. nats://127.0.0.1:4222/releases/stable`);
  const channel = twoSegments ? tail : undefined;
  if (required && channel === undefined) throw new AirlockError('USAGE_FLAG', `--channel ${value}: name the channel after the repository, e.g. ${value.replace(/\/$/, '')}/stable`);
  return { location, channel };
}

function numberFlag(flag: string, value: string | undefined, fallback: number, check: (n: number) => boolean, expected: string): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || !check(n)) throw new AirlockError('USAGE_FLAG', `${flag} expects ${expected}, got ${JSON.stringify(value)}`);
  return n;
}

function durationFlag(flag: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const ms = parseDuration(value);
  if (ms === undefined || ms <= 0) throw new AirlockError('USAGE_FLAG', `${flag} expects a duration such as 30s or 5m, got ${JSON.stringify(value)}`);
  return ms;
}

function stepsFlag(value: string | undefined): number[] {
  const steps = (value ?? '10,50,100').split(',').map((part) => Number(part.trim()));
  const growing = steps.every((step, i) => Number.isFinite(step) && step > 0 && step <= 100 && (i === 0 || step > (steps[i - 1] as number)));
  if (!growing || steps.at(-1) !== 100) throw new AirlockError('USAGE_FLAG', `--steps expects growing percentages of hosts ending at 100, e.g. 34,100; got ${JSON.stringify(value)}`);
  return steps;
}

interface RolloutFlags {
  channel: string;
  keys?: string;
  to: string;
  steps?: string;
  interval?: string;
  maxErrorRate?: string;
  maxP99Increase?: string;
  minRequests?: string;
  readyTimeout?: string;
}

/** `airlock fleet rollout SERVICE --channel nats://…/REPO/CHANNEL --keys KEYDIR --to N …`: exit 0 promoted, 1 aborted. */
export async function fleetRolloutCommand(service: string, flags: RolloutFlags): Promise<number> {
  const { location, channel } = channelFlag(flags.channel, true);
  const to = numberFlag('--to', flags.to, 0, (n) => Number.isSafeInteger(n) && n >= 1, 'a release version (a whole number of at least 1)');
  const rollout = new FleetRollout({
    location,
    service,
    channel: channel as string,
    keysDir: flags.keys,
    to,
    steps: stepsFlag(flags.steps),
    intervalMs: durationFlag('--interval', flags.interval, 5 * 60_000),
    readyTimeoutMs: durationFlag('--ready-timeout', flags.readyTimeout, 5 * 60_000),
    analysis: {
      maxErrorRate: numberFlag('--max-error-rate', flags.maxErrorRate, 0.01, (n) => n >= 0 && n <= 1, 'a fraction from 0 to 1, e.g. 0.01'),
      maxP99IncreaseMs: numberFlag('--max-p99-increase', flags.maxP99Increase, 100, (n) => n >= 0, 'milliseconds, e.g. 100'),
      minRequests: numberFlag('--min-requests', flags.minRequests, 100, (n) => Number.isInteger(n) && n >= 1, 'a whole number of at least 1'),
      failureLimit: 0,
      confidence: 0.999,
    },
    holder: `${hostname()} pid ${process.pid}`,
    say: (line) => out(`fleet: ${line}`),
  });
  try {
    const { outcome, reason } = await rollout.run();
    if (outcome === 'aborted') process.stderr.write(`airlock: fleet rollout of ${service} ${to} aborted: ${reason}\n`);
    return outcome === 'promoted' ? 0 : 1;
  } finally {
    await closeNatsConnections();
  }
}

/** `airlock fleet status --channel nats://…/REPO[/CHANNEL] [--json]` */
export async function fleetStatusCommand(flags: { channel: string; json?: boolean }): Promise<void> {
  const { location, channel } = channelFlag(flags.channel, false);
  try {
    const beats = (await fleetStatus(location)).filter((beat) => channel === undefined || beat.channel === channel);
    if (flags.json) out(JSON.stringify(beats, null, 1));
    else for (const line of formatFleet(beats, new Date())) out(line);
  } finally {
    await closeNatsConnections();
  }
}

/** The `airlock fleet …` commands (docs/fleet.md). */
export function registerFleet(program: Command): void {
  const fleet = program.command('fleet').description('many hosts following one channel on NATS JetStream: rollouts by hosts, status (docs/fleet.md)');
  fleet
    .command('rollout')
    .description('move the hosts of a service from the head to release N in steps; promote, or roll every host back on a breach (exit 0 promoted, 1 aborted)')
    .argument('<service>', 'the service')
    .requiredOption('--channel <url>', 'the channel: nats://HOST:PORT/REPO/CHANNEL')
    .option('--keys <dir>', 'the key directory: rollout, snapshot and timestamp keys (or AIRLOCK_RELEASE_KEY_ROLLOUT, _SNAPSHOT, _TIMESTAMP)')
    .requiredOption('--to <n>', 'the release to roll out (published, usually with --staged)')
    .option('--steps <list>', 'percent of hosts per step, growing, ending at 100 (default 10,50,100)')
    .option('--interval <duration>', 'the analysis window at each step (default 5m)')
    .option('--max-error-rate <r>', "the canary hosts' error rate that aborts at once, 0..1 (default 0.01)")
    .option('--max-p99-increase <ms>', 'p99 above the other hosts that aborts (default 100)')
    .option('--min-requests <n>', 'canary requests a window needs to decide; fewer holds the step (default 100)')
    .option('--ready-timeout <duration>', "how long a step's hosts have to serve the release (default 5m)")
    .action(async (service: string, flags: RolloutFlags) => {
      process.exitCode = await fleetRolloutCommand(service, flags);
    });
  fleet
    .command('status')
    .description('every host that sent a heartbeat: id, service, release, state, last heartbeat')
    .requiredOption('--channel <url>', 'nats://HOST:PORT/REPO, or …/REPO/CHANNEL for one channel')
    .option('--json', 'the heartbeats as JSON')
    .action((flags: { channel: string; json?: boolean }) => fleetStatusCommand(flags));
}
