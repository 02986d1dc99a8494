import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { Duplex } from 'node:stream';
import { randomUUID } from 'node:crypto';
import { descendants, processesWithEnv, readStat, type ProcStat } from './proc.js';
import { commandArgv } from './command.js';
import { forEachLine, LineTail } from './lines.js';
import { processEnd, type ProcessEnd } from './process-end.js';
import { cgroupMembers, inCgroup, newTreeCgroup, removeCgroup } from './cgroup.js';
import { INSTANCE } from './instance.js';
import { findExecutable } from './find-executable.js';
import type { ProcessControl } from './process-control.js';

export type Stream = 'stdout' | 'stderr';

export interface SpawnOptions {
  readonly command: string;
  readonly cwd: string;
  readonly env: Readonly<Record<string, string>>;
  readonly onLine?: (stream: Stream, line: string) => void;
  /** How often descendants are recorded, so ones orphaned before stop are still found. */
  readonly trackEveryMs?: number;
  /** Descriptors from fd 3 on: a parent fd number to pass, or 'pipe' for a socket pair. */
  readonly extraFds?: readonly (number | 'pipe')[];
  /** Set LISTEN_PID to the program's own pid (systemd socket activation checks it). */
  readonly listenPid?: boolean;
  /**
   * Look at the process tree every few ms for the first seconds (a service's generation):
   * a grandchild that detaches with no tag and whose parent exits at once is found only so.
   * Builds and probes, killed as a group, do without.
   */
  readonly trackEarly?: boolean;
  /** A wrapper's say in stopping and judging it (a debugger): see ProcessControl. */
  readonly control?: ProcessControl;
}

/**
 * One supervised process, leader of its own process group (and session), with its output
 * split into lines and its descendants remembered.
 *
 * @example
 *   const p = startProcess({ command: 'bin/app', cwd, env: { ...process.env } });
 *   const end = await p.ended; // { kind: 'exit', code: 0 } or { kind: 'signal', signal: 'SIGTERM' }
 */
export interface Supervised {
  readonly pid: number;
  readonly ended: Promise<ProcessEnd>;
  /** Resolves true once the program runs, false when it could not be started (ENOENT, EACCES). */
  readonly spawned: Promise<boolean>;
  /** undefined while running. */
  readonly end: ProcessEnd | undefined;
  /** The last lines of output, for failure reports. */
  tail(): string[];
  /** Descendants seen so far (including ones that called setsid), newest snapshot merged in. */
  knownDescendants(): ProcStat[];
  /** The parent's end of an extra 'pipe' descriptor (index 3 and up). */
  pipe(index: number): Duplex | undefined;
  /** Its cgroup, where the machine allows one: every descendant is in it, whatever it did. */
  readonly cgroup: string | undefined;
  /** Set when a wrapper (a debugger) stands between airlock and the program. */
  readonly control?: ProcessControl;
}

/**
 * Node cannot exec in place, so the pid of the program is known only inside it: a shell
 * sets LISTEN_PID=$$ and then execs the program, which keeps that pid.
 */
export function withListenPid([file, ...args]: [string, ...string[]]): [string, ...string[]] {
  const prelude = 'LISTEN_PID=$$; export LISTEN_PID;';
  if (file === '/bin/sh' && args[0] === '-c' && args.length === 2) return ['/bin/sh', '-c', `${prelude} ${args[1]}`];
  return ['/bin/sh', '-c', `${prelude} exec "$0" "$@"`, file, ...args];
}

/** For this long after start, the process tree is looked at every EARLY_LOOK_MS. */
const EARLY_TRACKING_MS = 3_000;
const EARLY_LOOK_MS = 5;

/** Environment variable that tags every process of one supervised tree (`<airlock instance>.<uuid>`). */
export const TAG_VARIABLE = 'AIRLOCK_TAG';

export function startProcess(options: SpawnOptions): Supervised {
  const argv = options.listenPid ? withListenPid(commandArgv(options.command)) : commandArgv(options.command);
  // A cgroup of its own where the machine allows: the one thing a descendant cannot leave (cgroup.ts).
  // Only for a program that can start: one that cannot is spawned as it is, so its
  // ENOENT or EACCES says so (through the wrapper it would read as a shell's exit 127).
  const cgroup = findExecutable(argv[0], options.cwd, options.env.PATH) !== undefined ? newTreeCgroup() : undefined;
  const [file, ...args] = cgroup === undefined ? argv : inCgroup(cgroup, argv);
  const tag = `${INSTANCE}.${randomUUID()}`;
  const child = spawn(file, args, {
    cwd: options.cwd,
    env: { ...options.env, [TAG_VARIABLE]: tag },
    // A new session and process group: stop signals reach the whole group, and a Ctrl-C
    // in airlock's terminal reaches airlock only, which then stops children in order.
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe', ...(options.extraFds ?? [])],
  });
  const tail = new LineTail();
  const known = new Map<number, ProcStat>();
  let end: ProcessEnd | undefined;

  const onLine = (stream: Stream) => (line: string) => {
    tail.push(line);
    options.onLine?.(stream, line);
  };
  if (child.stdout) forEachLine(child.stdout, onLine('stdout'));
  if (child.stderr) forEachLine(child.stderr, onLine('stderr'));
  // Every pipe to a child can fail (a reset when the child closes a socket pair with data
  // unread, EPIPE on a write after it exited): that ends the pipe, never airlock.
  for (const stream of child.stdio) stream?.on('error', () => stream.destroy());

  const record = () => {
    if (child.pid === undefined || end !== undefined) return;
    for (const stat of descendants(child.pid)) known.set(stat.pid, stat);
  };
  // Often at first: a child that starts a setsid grandchild with a cleared environment (no
  // tag) and exits at once leaves it to init within milliseconds, and only a look at the
  // tree before that finds it. Programs start their helpers early; later, every trackEveryMs.
  // A cgroup holds such a grandchild whatever it does, so with one nothing is looked at early:
  // that look is ~200 tree walks a second for 3 s on the event loop the proxy shares.
  const trackEarly = options.trackEarly === true && cgroup === undefined;
  let tracker: NodeJS.Timeout | undefined;
  const spawnedAt = performance.now();
  const track = () => {
    record();
    if (end !== undefined) return;
    const early = trackEarly && performance.now() - spawnedAt < EARLY_TRACKING_MS;
    tracker = setTimeout(track, early ? EARLY_LOOK_MS : (options.trackEveryMs ?? 500));
    tracker.unref();
  };
  tracker = setTimeout(track, trackEarly ? EARLY_LOOK_MS : (options.trackEveryMs ?? 500));
  tracker.unref();
  const clearTracker = () => clearTimeout(tracker);

  const ended = new Promise<ProcessEnd>((resolve) => {
    child.once('error', (error: NodeJS.ErrnoException) => {
      // Spawn failed (ENOENT, EACCES): report it like a shell would, as exit 127/126.
      if (child.pid !== undefined) return;
      // Node says "spawn x ENOENT" for a missing working directory too: say which it is.
      const why = error.code === 'ENOENT' && !existsSync(options.cwd) ? `cannot start: the working directory ${options.cwd} does not exist` : `${file}: ${error.message}`;
      tail.push(why);
      options.onLine?.('stderr', why);
      end = { kind: 'exit', code: error.code === 'EACCES' ? 126 : 127 };
      clearTracker();
      resolve(end);
    });
    // 'exit', not 'close': a descendant that inherited stdout would hold 'close' back.
    child.once('exit', (code, signal) => {
      if (end !== undefined) return;
      end = processEnd(code, signal);
      clearTracker();
      // Nothing left in it: gone (a tree with members left keeps it until it is stopped).
      if (cgroup !== undefined && cgroupMembers(cgroup).length === 0) removeCgroup(cgroup);
      resolve(end);
    });
  });

  const spawned = new Promise<boolean>((resolve) => {
    child.once('spawn', () => resolve(true));
    void ended.then(() => resolve(false));
  });

  return {
    pid: child.pid ?? -1,
    ended,
    spawned,
    get end() {
      return end;
    },
    tail: () => tail.lines(),
    pipe: (index) => (child.stdio[index] as Duplex | null) ?? undefined,
    cgroup,
    ...(options.control ? { control: options.control } : {}),
    knownDescendants: () => {
      record();
      // The tag scan reads every process's environment; a cgroup already lists all the tree.
      if (cgroup === undefined) for (const stat of processesWithEnv(TAG_VARIABLE, tag)) if (stat.pid !== child.pid) known.set(stat.pid, stat);
      for (const pid of cgroup === undefined ? [] : cgroupMembers(cgroup)) {
        const stat = readStat(pid);
        if (stat !== undefined && pid !== child.pid) known.set(pid, stat);
      }
      return [...known.values()];
    },
  };
}
