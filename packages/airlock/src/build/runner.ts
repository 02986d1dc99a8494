import { findLocations } from './locations.js';
import { LineTail } from '../supervise/lines.js';
import { startProcess, type Stream } from '../supervise/spawn.js';

const TAIL_LINES = 40;
const MAX_LOCATIONS = 10;
import { stopProcess } from '../supervise/stop.js';
import { isSuccess, type ProcessEnd } from '../supervise/process-end.js';

export interface BuildRequest {
  readonly cmd: string;
  readonly cwd: string;
  readonly env: Readonly<Record<string, string>>;
  readonly timeoutMs: number;
  /** Aborting kills the build's whole process group (a newer change supersedes it). */
  readonly signal: AbortSignal;
  readonly onLine: (stream: Stream, line: string) => void;
}

export type BuildOutcome =
  | { readonly kind: 'ok'; readonly ms: number }
  | { readonly kind: 'failed'; readonly end: ProcessEnd; readonly tail: readonly string[]; readonly locations: readonly string[] }
  | { readonly kind: 'cancelled' }
  | { readonly kind: 'timeout'; readonly tail: readonly string[] };

/**
 * Runs one build in its own process group.
 *
 * @example
 *   const outcome = await runBuild({ cmd: 'go build -o bin/app .', cwd, env, timeoutMs: 300_000, signal, onLine });
 *   if (outcome.kind === 'failed') console.log(outcome.locations); // ['./main.go:12:5']
 */
export async function runBuild(request: BuildRequest): Promise<BuildOutcome> {
  const started = performance.now();
  if (request.signal.aborted) return { kind: 'cancelled' };
  // Bounded: a build that prints a million lines keeps the last 40 and the first locations.
  const tail = new LineTail(TAIL_LINES);
  const locations: string[] = [];
  const child = startProcess({
    command: request.cmd,
    cwd: request.cwd,
    env: request.env,
    onLine: (stream, line) => {
      tail.push(line);
      if (locations.length < MAX_LOCATIONS) for (const found of findLocations([line])) if (!locations.includes(found)) locations.push(found);
      request.onLine(stream, line);
    },
  });
  let stopping: 'cancelled' | 'timeout' | undefined;
  // Builds hold no state worth a grace period: kill the group at once.
  const kill = (why: 'cancelled' | 'timeout') => {
    stopping ??= why;
    void stopProcess(child, { signal: 'SIGKILL', timeoutMs: 0 });
  };
  const onAbort = () => kill('cancelled');
  request.signal.addEventListener('abort', onAbort, { once: true });
  const timer = setTimeout(() => kill('timeout'), request.timeoutMs);
  try {
    const end = await child.ended;
    if (stopping !== undefined) await stopProcess(child, { signal: 'SIGKILL', timeoutMs: 0 });
    if (stopping === 'cancelled') return { kind: 'cancelled' };
    if (stopping === 'timeout') return { kind: 'timeout', tail: child.tail() };
    if (isSuccess(end)) return { kind: 'ok', ms: performance.now() - started };
    return { kind: 'failed', end, tail: tail.lines(), locations };
  } finally {
    clearTimeout(timer);
    request.signal.removeEventListener('abort', onAbort);
  }
}
