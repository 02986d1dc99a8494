#!/usr/bin/env node
import { Command, Option } from 'commander';
import { initConfig } from '../config/init.js';
import { jsonSchema } from '../config/schema.js';
import { AirlockError, asAirlockError } from '../errors.js';
import { closest } from '../config/suggest.js';
import { bucketOf, type Bucketing } from '../rollout/bucket.js';
import { rolloutActionCommand, rolloutStatusCommand } from './commands/rollout.js';
import { reloadCommand, statusCommand } from './commands/control.js';
import { runDaemon } from './commands/daemon.js';
import { paletteFor, printError, type GlobalOptions } from './output.js';
import { validateCommand } from './commands/validate.js';
import { registerRelease } from './commands/release.js';
import { registerFleet } from './commands/fleet.js';
import { registerPlugin } from './commands/plugin.js';
import { closeAllWatchers } from '../watch/watcher.js';

interface ServiceFlagOptions {
  build?: string;
  run?: string;
  watch?: string[];
  listen?: string;
  handoff?: string;
  debounce?: string;
  stopSignal?: string;
  stopTimeout?: string;
}

/** What `dev` and `run` add around the services: --once, --clear, --notify. */
interface SessionFlags {
  ui?: boolean | string;
  once?: boolean;
  clear?: boolean;
  notify?: boolean;
  host?: string;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

function serviceFlags(command: Command): Command {
  return command
    .option('--build <cmd>', 'build command for a service without a config file')
    .option('--run <cmd>', 'command that runs the service')
    .option('--watch <glob>', 'glob of files that trigger a rebuild (repeatable)', collect)
    .option('--listen <addr>', 'address the service serves on: host:port, :port or port')
    .option('--handoff <mode>', 'how a new version takes over: fd | proxy | tcp-proxy | restart (default: proxy with --listen, else restart)')
    .option('--debounce <duration>', 'quiet period before a build, e.g. 50ms or 0')
    .option('--stop-signal <signal>', 'signal that asks the service to stop (default SIGTERM)')
    .option('--stop-timeout <duration>', 'grace period before SIGKILL (default 10s)')
    .option('--ui [address]', 'serve the dashboard (default 127.0.0.1:9465, or ui.listen in airlock.yaml); the URL to open is printed')
    .option('--once', 'build, start, wait until every service is ready, then stop: exit 0, or 1 with the reason (scripts, CI smoke tests)')
    .option('--clear', 'clear the screen before each build')
    .option('--notify', 'desktop notification (notify-send) when a build fails, and when it builds again');
}

function globals(command: Command): GlobalOptions {
  const options = command.optsWithGlobals<GlobalOptions>();
  return { ...options, logFormat: options.logFormat ?? 'pretty', color: options.color ?? true };
}

const program = new Command('airlock')
  .description('Change a running service instantly and safely: rebuild what changed, start it beside the old, swap when ready.')
  // Not commander's .version(): a program-wide --version would swallow `release publish --version N`.
  .addHelpText('after', '\nairlock -V | airlock --version prints the version.')
  .option('-c, --config <file>', 'config file (default: ./airlock.yaml, else flags or the project preset)')
  .addOption(new Option('--log-format <format>', 'output format').choices(['pretty', 'json']).default('pretty'))
  .option('-q, --quiet', "only errors and the services' own output")
  .option('-v, --verbose', 'also changes, pids and stops')
  .option('--no-color', 'no ANSI colours (also: NO_COLOR=1)')
  .showHelpAfterError();

/**
 * `airlock devv` reaches the default command as a service name: when no such service
 * exists and the word is close to a command, say which command was meant.
 */
function commandTypo(names: readonly string[], error: unknown): AirlockError | undefined {
  if (!(error instanceof AirlockError) || error.code !== 'CONFIG_UNKNOWN_SERVICE') return undefined;
  const commands = program.commands.map((c) => c.name());
  for (const name of names) {
    const meant = closest(name, commands);
    if (meant !== undefined && error.message.includes(`"${name}"`)) {
      return new AirlockError('USAGE_COMMAND', `unknown command or service "${name}"; did you mean \`airlock ${meant}\`? (${error.message})`);
    }
  }
  return undefined;
}

async function daemonAction(mode: 'dev' | 'run' | 'agent', names: string[], options: ServiceFlagOptions & SessionFlags, command: Command): Promise<void> {
  let code: number;
  const { ui, once, clear, notify, host, ...flags } = options;
  try {
    code = await runDaemon(names, flags, globals(command), mode, { ui, once, clear, notify, host });
  } catch (error) {
    throw commandTypo(names, error) ?? error;
  }
  // A forced stop leaves watchers open; exiting with one open aborts the process.
  await closeAllWatchers();
  process.exit(code);
}

serviceFlags(
  program
    .command('dev', { isDefault: true })
    .description('watch, build, run, and swap on every change (the default command)')
    .argument('[services...]', 'services to run (default: all)'),
).action((names: string[], options: ServiceFlagOptions & SessionFlags, command: Command) => daemonAction('dev', names, options, command));

serviceFlags(
  program
    .command('run')
    .description('build and run without watching; rebuild and swap on SIGHUP')
    .argument('[services...]', 'services to run (default: all)'),
).action((names: string[], options: ServiceFlagOptions & SessionFlags, command: Command) => daemonAction('run', names, options, command));

program
  .command('agent')
  .description('run the services that take their versions from a signed release channel (release: in airlock.yaml); swap to each new verified release')
  .argument('[services...]', 'services to run (default: all; at least one needs release:)')
  .option('--host <id>', "this agent's id in a fleet: heartbeats and fleet rollouts name it (default: the machine's hostname)")
  .action((names: string[], options: { host?: string }, command: Command) => daemonAction('agent', names, { host: options.host }, command));

registerRelease(program);
registerFleet(program);
registerPlugin(program);

program
  .command('init')
  .description('write airlock.yaml for the project here (Go or Node preset, or converted from air)')
  .option('--from <file>', 'convert an air (.air.toml) or nodemon (nodemon.json, package.json nodemonConfig) config')
  .option('--force', 'overwrite an existing airlock.yaml')
  .action((options: { from?: string; force?: boolean }) => {
    const result = initConfig(process.cwd(), options);
    process.stdout.write(`wrote ${result.path}\n`);
    for (const note of result.notes) process.stdout.write(`  note: ${note}\n`);
    if (result.unmapped.length > 0) {
      process.stdout.write(`  not mapped (${result.unmapped.length}), listed at the top of the file too:\n`);
      for (const line of result.unmapped) process.stdout.write(`    ${line}\n`);
    }
  });

program
  .command('status')
  .description('services, generations, pids and states of the airlock running here')
  .option('--json', 'machine-readable output')
  .option('--compare', 'the serving generation beside the one before it: start-up, memory peak, 2xx share, p99, requests')
  .action((options: { json?: boolean; compare?: boolean }, command: Command) => statusCommand({ ...globals(command), json: options.json, compare: options.compare }));

program
  .command('reload')
  .description('rebuild and swap now (all services, or the ones named)')
  .argument('[services...]', 'services to reload')
  .action((names: string[], _options: unknown, command: Command) => reloadCommand(names, globals(command)));

program
  .command('validate')
  .description('check airlock.yaml and the app config files; print every problem with file:line:column; exit 1 if any')
  .action((_options: unknown, command: Command) => validateCommand(globals(command)));

const rollout = program.command('rollout').description('gray release: where a canary rollout stands, steer it, and which side a user lands on');
rollout
  .command('status')
  .description('share, step, window figures of canary and stable, the last decision and why')
  .argument('[service]', 'one service (default: all)')
  .option('--json', 'machine-readable output')
  .action((name: string | undefined, options: { json?: boolean }, command: Command) => rolloutStatusCommand(name, { ...globals(command), json: options.json }));
rollout
  .command('promote')
  .description('move the canary to the next step now (--full: every user, promoted)')
  .argument('<service>')
  .option('--full', 'skip the remaining steps: the canary takes every user and the stable generation drains')
  .action((name: string, options: { full?: boolean }, command: Command) => rolloutActionCommand(name, options.full ? 'promote-full' : 'promote', globals(command)));
for (const [action, what] of [
  ['abort', 'roll back now: every user on stable, the canary drained and stopped, its build marked bad'],
  ['pause', 'hold the current step: no analysis decides until resume'],
  ['resume', 'go on from the current step with a fresh window'],
] as const) {
  rollout
    .command(action)
    .description(what)
    .argument('<service>')
    .action((name: string, _options: unknown, command: Command) => rolloutActionCommand(name, action, globals(command)));
}
rollout
  .command('bucket')
  .description("print a key's bucket (1..10000, or 1..100 for unleash): it is on the canary while the bucket is at or below the share")
  .argument('<key>', 'the rollout key of one user: the header, cookie or address value')
  .option('--group <group>', 'the rollout group (rollout.group in airlock.yaml; groupId in Unleash)')
  .addOption(new Option('--bucketing <scheme>', 'how keys map to buckets').choices(['airlock', 'unleash']).default('airlock'))
  .action((key: string, options: { group?: string; bucketing: Bucketing }) => {
    if (options.group === undefined) {
      throw new AirlockError('USAGE_FLAG', '--group is needed: a key\'s bucket depends on its rollout group (rollout.group in airlock.yaml, groupId in Unleash)');
    }
    process.stdout.write(`${bucketOf(key, options.group, options.bucketing)}\n`);
  });

program
  .command('schema')
  .description('print the JSON Schema of airlock.yaml (for editor completion)')
  .action(() => {
    process.stdout.write(`${JSON.stringify(jsonSchema(), null, 2)}\n`);
  });

const VERSION = '0.1.0';
if (process.argv.length === 3 && (process.argv[2] === '--version' || process.argv[2] === '-V')) {
  process.stdout.write(`${VERSION}\n`);
  process.exit(0);
}

try {
  await program.parseAsync(process.argv);
} catch (thrown) {
  const error = asAirlockError(thrown);
  const options = program.opts<GlobalOptions>();
  printError(error, { logFormat: options.logFormat ?? 'pretty' }, paletteFor({ ...options, color: options.color ?? true }, process.stderr));
  if (error.code === 'INTERNAL' && thrown instanceof Error && thrown.stack) process.stderr.write(`${thrown.stack}\n`);
  process.exitCode = error.exitCode;
  await closeAllWatchers();
}
