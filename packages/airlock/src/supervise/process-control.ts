import type { Supervised } from './spawn.js';

/**
 * What a program standing between airlock and the service (a debugger) changes about
 * supervising it. A spawn hook that wraps a command gives one; without it, the stop
 * signal goes to the process group and the service is judged by its probes as usual.
 *
 * @example
 *   const control: ProcessControl = { held: (child) => pausedAtBreakpoint(child.pid) };
 */
export interface ProcessControl {
  /**
   * Delivers the graceful stop signal in the wrapper's stead: `dlv exec` kills its program
   * at once on SIGTERM, so the signal goes to the program and dlv follows it. SIGKILL after
   * the grace period still reaches the whole tree.
   */
  readonly deliverStop?: (child: Supervised, signal: NodeJS.Signals) => void;
  /**
   * True while someone holds the service on purpose (paused at a breakpoint): its probes
   * do not count and its stop grace period waits, so a debugging session is never failed
   * or killed under the developer.
   */
  readonly held?: (child: Supervised) => boolean;
}
