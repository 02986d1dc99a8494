import { constants } from 'node:os';

/**
 * How a process ended: its own exit code, or the signal that killed it. Kept as data so
 * logs and events can say why (`exited with code 2`, `killed by SIGSEGV`). airlock itself
 * is a supervisor: it exits 0 after a graceful stop whatever its services' codes were
 * (docs/cli.md); the shell convention below is for reports.
 */
export type ProcessEnd =
  | { readonly kind: 'exit'; readonly code: number }
  | { readonly kind: 'signal'; readonly signal: NodeJS.Signals };

export function processEnd(code: number | null, signal: NodeJS.Signals | null): ProcessEnd {
  if (signal !== null) return { kind: 'signal', signal };
  return { kind: 'exit', code: code ?? 0 };
}

/** The shell convention: the exit code, or 128 + n when killed by signal n. */
export function exitCodeOf(end: ProcessEnd): number {
  if (end.kind === 'exit') return end.code;
  return 128 + (constants.signals[end.signal] ?? 0);
}

export function isSuccess(end: ProcessEnd): boolean {
  return end.kind === 'exit' && end.code === 0;
}

/** "exited with code 2" / "killed by SIGSEGV". */
export function describeEnd(end: ProcessEnd): string {
  return end.kind === 'exit' ? `exited with code ${end.code}` : `killed by ${end.signal}`;
}
