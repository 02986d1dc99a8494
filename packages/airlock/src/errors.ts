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
  readonly howTo: string;
}

export const catalog = {
  CONFIG_NOT_FOUND: {
    exit: 1,
    howTo: 'Check the path given to --config, or run `airlock init` to write an airlock.yaml here.',
  },
  CONFIG_PARSE: {
    exit: 1,
    howTo: 'Fix the YAML syntax at the reported line and column; `airlock validate` re-checks it.',
  },
  CONFIG_INVALID: {
    exit: 1,
    howTo: 'Fix every listed problem (each names file:line:column); `airlock schema` prints every allowed key.',
  },
  CONFIG_NO_SERVICE: {
    exit: 1,
    howTo: 'Run inside a Go module with a main package or a Node project with a start script, pass --run, or run `airlock init`.',
  },
  CONFIG_UNKNOWN_SERVICE: {
    exit: 1,
    howTo: 'Name one of the services listed in airlock.yaml, or omit the names to run them all.',
  },
  USAGE_FLAG: {
    exit: 1,
    howTo: 'Correct the flag value as described; `airlock --help` lists every flag.',
  },
  INIT_EXISTS: {
    exit: 1,
    howTo: 'Edit the existing airlock.yaml, or pass --force to overwrite it.',
  },
  INIT_NO_PROJECT: {
    exit: 1,
    howTo: 'Run `airlock init` in a directory with go.mod and a main package, or with a package.json.',
  },
  AIR_PARSE: {
    exit: 1,
    howTo: 'Fix the TOML syntax at the reported line of .air.toml, or write airlock.yaml by hand with `airlock init`.',
  },
  PRESET_GO: {
    exit: 1,
    howTo: 'Make `go list` succeed in this module (run it yourself to see why), or set build and run in airlock.yaml.',
  },
  WATCH_LIMIT: {
    exit: 2,
    howTo: 'Raise the inotify limit: `sudo sysctl fs.inotify.max_user_watches=524288` (persist it in /etc/sysctl.d/), or exclude large directories.',
  },
  WATCH_FAILED: {
    exit: 2,
    howTo: 'Check that the watched directory exists and is readable; the cause is shown after the message.',
  },
  BUILD_FAILED: {
    exit: 1,
    howTo: 'Fix the reported compiler errors and save; the running version keeps serving meanwhile.',
  },
  BUILD_TIMEOUT: {
    exit: 1,
    howTo: 'Raise build.timeout in airlock.yaml, or find what makes the build hang (run the build command by hand).',
  },
  START_FAILED: {
    exit: 1,
    howTo: 'Check run.cmd: the program must exist and be executable (the last output lines are shown above).',
  },
  START_TIMEOUT: {
    exit: 1,
    howTo: 'Make the app listen on the address in PORT / listen sooner, or raise health.startTimeout.',
  },
  PROCESS_CRASHED: {
    exit: 1,
    howTo: 'Read the last output lines shown above; airlock restarts it with backoff and rebuilds on the next change.',
  },
  INTERNAL: {
    exit: 2,
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
