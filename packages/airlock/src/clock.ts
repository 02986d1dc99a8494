/**
 * Time as the core reads it, injectable so that tests of burst, settle and backoff rules
 * run on a fake clock instead of sleeping.
 */
export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface Clock extends Timers {
  /** A monotonic time in ms (performance.now()). */
  now(): number;
  /** Wall time in ms (Date.now()), for comparing with file modification times. */
  wall(): number;
}

/**
 * The clock of the running process.
 *
 * @example
 *   const started = realClock.now();
 *   realClock.setTimeout(() => console.log(realClock.now() - started), 50);
 */
export const realClock: Clock = {
  now: () => performance.now(),
  wall: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};
