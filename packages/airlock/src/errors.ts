/**
 * The error catalog: every error airlock reports to a user has a stable code here, a
 * one-line "how to solve", and the exit code the CLI uses for it. docs/errors.md lists
 * the same table; test/errors.test.ts keeps the two in sync.
 *
 * @example
 *   throw new AirlockError('CONFIG_NOT_FOUND', `config file "${file}" does not exist`);
 */

interface CatalogEntry {
  /** 1: the user's input (config, flags, project); 2: something failed inside airlock or the OS. */
  readonly exit: 1 | 2;
  /** When it happens, for docs/errors.md. */
  readonly when: string;
  readonly howTo: string;
}

export const catalog = {
  CONFIG_TOO_BIG: {
    exit: 1,
    when: 'airlock.yaml (or another config file airlock reads) is larger than 1 MiB; it is refused before it is read, and a running airlock keeps the config it has.',
    howTo: 'Put back the file you meant to save (a config is a few KiB); large data belongs in files the app reads itself.',
  },
  CONFIG_NOT_FOUND: {
    exit: 1,
    when: 'The file given to `--config` (or `init --from`) does not exist or cannot be read.',
    howTo: 'Check the path given to --config (or to `airlock init --from`), or run `airlock init` to write an airlock.yaml here.',
  },
  CONFIG_PARSE: {
    exit: 1,
    when: 'airlock.yaml is not valid YAML.',
    howTo: 'Fix the YAML syntax at the reported line and column; `airlock validate` re-checks it.',
  },
  CONFIG_INVALID: {
    exit: 1,
    when: 'airlock.yaml parsed, but has unknown keys, wrong types, bad durations or missing files. Every problem is listed.',
    howTo: 'Fix every listed problem (each names file:line:column); `airlock schema` prints every allowed key.',
  },
  CONFIG_NO_SERVICE: {
    exit: 1,
    when: 'No airlock.yaml, no `--run`, and no preset applies here.',
    howTo: 'Run inside a Go module with a main package or a Node project with a start script, pass --run, or run `airlock init`.',
  },
  CONFIG_UNKNOWN_SERVICE: {
    exit: 1,
    when: '`airlock dev NAME` names a service that airlock.yaml (or, without it, the preset) does not define.',
    howTo: 'Name one of the services listed in the message, or omit the names to run them all.',
  },
  USAGE_COMMAND: {
    exit: 1,
    when: '`airlock WORD` where WORD is neither a command nor a service, but close to a command (`airlock devv`).',
    howTo: 'Use the command named in the message; `airlock --help` lists every command.',
  },
  USAGE_FLAG: {
    exit: 1,
    when: 'A flag has a bad value, or service flags were given while airlock.yaml is in use.',
    howTo: 'Correct the flag value as described; `airlock --help` lists every flag.',
  },
  INIT_EXISTS: {
    exit: 1,
    when: '`airlock init` would overwrite airlock.yaml.',
    howTo: 'Edit the existing airlock.yaml, or pass --force to overwrite it.',
  },
  INIT_NO_PROJECT: {
    exit: 1,
    when: '`airlock init` found neither a Go main package nor a package.json.',
    howTo: 'Run `airlock init` in a directory with go.mod and a main package, or with a package.json that has a "start" script; or run any command with `airlock dev --run "<command>"`.',
  },
  NODEMON_PARSE: {
    exit: 1,
    when: '`airlock init --from nodemon.json` (or package.json) could not read nodemon settings from it.',
    howTo: 'Fix the JSON at the reported line, or add a "nodemonConfig" object to package.json; or write airlock.yaml with plain `airlock init`.',
  },
  INIT_FROM: {
    exit: 2,
    when: '`airlock init --from` was given a file it cannot import.',
    howTo: 'Pass an air config (.air.toml) or a nodemon config (nodemon.json, .nodemonrc, or package.json with "nodemonConfig").',
  },
  AIR_PARSE: {
    exit: 1,
    when: '`airlock init --from .air.toml` could not parse the TOML.',
    howTo: 'Fix the TOML syntax at the reported line of .air.toml, or write airlock.yaml by hand with `airlock init`.',
  },
  PRESET_GO: {
    exit: 1,
    when: 'The Go preset could not run `go list` (Go missing, or no go.mod).',
    howTo: 'Make `go list` succeed in this module (run it yourself to see why), or set build and run in airlock.yaml.',
  },
  WATCH_LIMIT: {
    exit: 2,
    when: 'The kernel refused more inotify watches or instances.',
    howTo: 'Raise the inotify limit: `sudo sysctl fs.inotify.max_user_watches=524288` (persist it in /etc/sysctl.d/), or exclude large directories.',
  },
  WATCH_FAILED: {
    exit: 2,
    when: 'The file watcher could not start or failed while running.',
    howTo: 'Check that the watched directory exists and is readable; the cause is shown after the message.',
  },
  BUILD_FAILED: {
    exit: 1,
    when: 'The build command exited non-zero. A failed build never replaces or stops a running generation.',
    howTo: 'Fix the reported compiler errors and save: airlock builds again. The message says which generation, if any, keeps serving.',
  },
  BUILD_NO_ARTIFACT: {
    exit: 1,
    when: 'The build command exited 0 but did not write its output to `{artifact}`. The running generation keeps serving.',
    howTo: 'Make the build write to {artifact} (e.g. `go build -o {artifact} .`), or drop {artifact} from build.cmd and run.cmd if the build has no single output.',
  },
  BUILD_TIMEOUT: {
    exit: 1,
    when: 'The build ran longer than `build.timeout` and was killed.',
    howTo: 'Raise build.timeout in airlock.yaml, or find what makes the build hang (run the build command by hand).',
  },
  PORT_CONFLICT: {
    exit: 1,
    when: 'A generation exited because an address it binds is in use: most often the app binds the `listen` address airlock holds for it, instead of $PORT.',
    howTo: 'Make the app listen on the port in $PORT (proxy, tcp-proxy) or accept fd 3 (fd, restart); if another process holds the port, the message names it: stop it.',
  },
  LISTEN_FAILED: {
    exit: 1,
    when: 'airlock could not bind `listen` (address in use, no permission).',
    howTo: 'Free the address (`ss -ltnp` shows who holds it) or change listen in airlock.yaml.',
  },
  HEALTH_FAILED: {
    exit: 1,
    when: 'A new generation did not pass its health probe within `health.startTimeout`. It never took traffic.',
    howTo: 'Check the probe in health (path, port, command); the new version never took traffic, the old one keeps serving.',
  },
  MEMORY_GROWTH: {
    exit: 1,
    when: 'A new generation grew memory faster than `health.memory.maxGrowthMBps` before it was ready.',
    howTo: 'Find the leak or allocation at start-up, or raise health.memory.maxGrowthMBps if the growth is expected.',
  },
  ROLLED_BACK: {
    exit: 1,
    when: 'A generation failed within `health.rollbackWindow` of taking traffic; the previous build was started again.',
    howTo: 'The new version failed soon after the swap and the previous build serves again; fix and save to try again.',
  },
  ROLLOUT_ABORTED: {
    exit: 1,
    when: 'A canary failed its rollout analysis (error rate or p99 over the thresholds in `rollout.analysis`, beyond `failureLimit`), crashed, failed its liveness probe, or was aborted by hand.',
    howTo: 'Every user is back on the stable generation and the build is marked bad; see the reason and window figures in the event (`airlock rollout status`), fix and save to roll out a new build.',
  },
  PLUGIN_MISMATCH: {
    exit: 1,
    when: 'A Go plugin build (plugins.go) would not open in the running host binary: plugin.Open would refuse it (and poison the process), so airlock removed it before the app could see it.',
    howTo: 'Nothing when the host is being rebuilt (airlock builds every plugin again for each new generation); otherwise build host and plugin with the same Go, flags and dependency versions.',
  },
  ROLLOUT_BAD_BUILD: {
    exit: 1,
    when: 'A reload would roll out a build that an earlier rollout aborted (the same artifact bytes, or the same source build).',
    howTo: 'Change the code so a different build comes out; the stable generation keeps serving meanwhile.',
  },
  ROLLOUT_NONE: {
    exit: 1,
    when: '`airlock rollout promote|abort|pause|resume` named a service with no rollout in progress.',
    howTo: 'A rollout starts when a new generation of a service with `rollout.strategy: canary` becomes ready; `airlock rollout status` shows where each one stands.',
  },
  RELEASE_KEYS: {
    exit: 1,
    when: 'A release command found no key for a role (neither `AIRLOCK_RELEASE_KEY_<ROLE>` nor the file in `--keys`), a key file that is not a PEM private key, or would overwrite an existing key.',
    howTo: 'Pass --keys with the directory `airlock release init` wrote (or set the variable the message names); keys are never overwritten: move an old one away first.',
  },
  RELEASE_REPO: {
    exit: 1,
    when: 'A release repository directory is missing, not one `airlock release init` wrote, or its metadata cannot be read or signed with the given keys.',
    howTo: 'Run `airlock release init DIR --keys KEYDIR` once, then publish into that DIR with the same keys.',
  },
  RELEASE_VERSION: {
    exit: 1,
    when: 'A release version is not above the highest one of its service and channel: `release publish` refuses it, and an agent refuses a channel whose newest version is below the highest it has seen (a replay).',
    howTo: 'Publish with a higher --version; an agent keeps serving what it runs meanwhile.',
  },
  RELEASE_REFUSED: {
    exit: 1,
    when: 'The TUF client (tuf-js) refused the channel: a bad or missing signature, below threshold, expired metadata, an older timestamp, snapshot or targets than already seen, a length or hash mismatch, or a download past its cap.',
    howTo: 'Nothing was applied and the running release keeps serving. Re-sign (`airlock release expire`) if the channel expired; otherwise treat it as tampering and republish from CI.',
  },
  RELEASE_NONE: {
    exit: 1,
    when: 'The channel has no release for this service, or only ones marked bad (they failed their health gate before).',
    howTo: 'Publish a release for this service and channel (`airlock release publish … --service S --channel C`), with a version above the bad ones.',
  },
  RELEASE_BAD: {
    exit: 1,
    when: 'A release failed its health gate (or was rolled back) on this machine; it is marked bad on disk and never applied again.',
    howTo: 'Fix the release and publish a higher version; the previous release keeps serving.',
  },
  NATS_UNREACHABLE: {
    exit: 2,
    when: 'A release command, an agent or the fleet controller could not reach the NATS server(s) of a `nats://` repository, or was refused by them (authentication, permissions).',
    howTo: 'Check that nats-server runs at the address given (`nats-server -js`), and the credentials: user:pass@ or token@ in the URL, or NATS_CREDS, NATS_NKEY, NATS_USER/NATS_PASSWORD, NATS_TOKEN, NATS_CA/NATS_CERT/NATS_KEY. An agent keeps serving its release meanwhile.',
  },
  NATS_SERVER: {
    exit: 1,
    when: 'The NATS server answers but cannot hold a release repository: JetStream is not enabled, the server is older than 2.9, or a bucket it created does not have the settings asked for (read back after creating it).',
    howTo: 'Start nats-server with JetStream (`nats-server -js`, or `jetstream {}` in its config), version 2.9 or newer; in a cluster, every node needs JetStream.',
  },
  RELEASE_CONFLICT: {
    exit: 1,
    when: 'Two writers changed a `nats://` repository at once (two publishes, or a publish during a fleet rollout step): the second one\'s compare-and-set failed, and nothing of it became the channel\'s.',
    howTo: 'Run the command again: it starts from what the other writer made.',
  },
  START_FAILED: {
    exit: 1,
    when: 'The run command could not be started (not found, not executable).',
    howTo: 'Check run.cmd: the program must exist and be executable (the last output lines are shown above).',
  },
  START_TIMEOUT: {
    exit: 1,
    when: 'A new generation did not accept connections on `listen` within `health.startTimeout`.',
    howTo: 'Make the app listen on the address in PORT / listen sooner, or raise health.startTimeout.',
  },
  PROCESS_CRASHED: {
    exit: 1,
    when: 'A new generation exited before it was ready.',
    howTo: 'Read the output above (the message names the place in your code the stack points at) and fix it: the next save builds and starts it again. While no generation serves, airlock also retries with backoff ("restarting in …").',
  },
  ENV_FILE: {
    exit: 1,
    when: 'A reload found an env file (`run.envFile`) missing or unreadable; the running generation keeps serving.',
    howTo: 'Put the file back (or remove it from run.envFile in airlock.yaml); the next change or `airlock reload` starts with it.',
  },
  CONFIG_REJECTED: {
    exit: 1,
    when: "An app config file (`config.files`) does not parse or does not satisfy `config.schema`; the running generation keeps the last good one.",
    howTo: 'Fix the file at the reported line; airlock reads it again on the next save.',
  },
  DEBUG_SETUP: {
    exit: 1,
    when: 'debug: in airlock.yaml cannot be set up: dlv is not installed, or run.cmd needs a shell that dlv exec cannot run, or the debug address is taken.',
    howTo: 'Install delve (Debian: apt-get install delve), keep run.cmd a program and its arguments ({artifact} by default), and give debug.listen a free address.',
  },
  CONTROL_IN_USE: {
    exit: 1,
    when: 'Another airlock already runs in this directory (its control socket answers).',
    howTo: 'Stop the other airlock (`airlock status` shows it), or run this one from another directory.',
  },
  CONTROL_BUSY: {
    exit: 1,
    when: "The running airlock's control socket closed the connection before answering: it keeps room for commands, but many clients are holding it (event streams, stuck requests).",
    howTo: 'Try again in a moment; close `airlock events` (or other /events subscribers) you no longer need. The services are not affected.',
  },
  CONTROL_UNREACHABLE: {
    exit: 1,
    when: '`airlock status` or `airlock reload` found no running airlock here.',
    howTo: 'Start `airlock dev` or `airlock run` in this directory first (or pass the same --config).',
  },
  INTERNAL: {
    exit: 2,
    when: 'Anything unexpected inside airlock.',
    howTo: 'This is a bug in airlock: please report it with the output of `airlock --verbose`.',
  },
} as const satisfies Record<string, CatalogEntry>;

export type ErrorCode = keyof typeof catalog;

/** The full code as printed, e.g. AIRLOCK_ERR_CONFIG_INVALID. */
export function fullCode(code: ErrorCode): string {
  return `AIRLOCK_ERR_${code}`;
}

export class AirlockError extends Error {
  readonly code: ErrorCode;
  /** Extra lines printed under the message (one per config problem, compiler output, ...). */
  readonly details: readonly string[];

  constructor(code: ErrorCode, message: string, options: { details?: readonly string[]; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AirlockError';
    this.code = code;
    this.details = options.details ?? [];
  }

  get howTo(): string {
    return catalog[this.code].howTo;
  }

  get exitCode(): 1 | 2 {
    return catalog[this.code].exit;
  }
}

/** Wraps anything thrown into an AirlockError so the CLI can always print code + how-to. */
export function asAirlockError(error: unknown): AirlockError {
  if (error instanceof AirlockError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new AirlockError('INTERNAL', message, { cause: error });
}
