/**
 * A change handed on before the burst rules could confirm it was alone: its build starts
 * at once (the debounce after the first event), and it swaps only once the tree counts as
 * settled (docs/watching.md). A content change arriving before then cancels it (its
 * build is killed, or, if it finished, thrown away) and is handed on together with it,
 * so a burst still completes exactly one build.
 *
 * @example
 *   const provisional = new Provisional(['/app/main.go'], clock.now());
 *   provisional.signal.addEventListener('abort', () => build.abort());
 *   if (await provisional.confirmed) swap();
 */
export class Provisional {
  readonly #controller = new AbortController();
  #resolve: (confirmed: boolean) => void = () => undefined;
  #done = false;
  /** Resolves true when the tree settled with nothing more, false when cancelled. */
  readonly confirmed = new Promise<boolean>((resolve) => (this.#resolve = resolve));

  constructor(
    /** The changed paths (absolute) it was handed on with: a cancelling change carries them on. */
    readonly changed: readonly string[],
    /** When the first event of the change came (clock time). */
    readonly firstAt: number,
  ) {}

  /** Aborted when it is cancelled: the build it started is killed. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  get done(): boolean {
    return this.#done;
  }

  confirm(): void {
    if (this.#done) return;
    this.#done = true;
    this.#resolve(true);
  }

  /** Nothing will confirm it (airlock stops): a reload waiting on it ends; its build is left to the stop. */
  drop(): void {
    if (this.#done) return;
    this.#done = true;
    this.#resolve(false);
  }

  cancel(): void {
    if (this.#done) return;
    this.#done = true;
    this.#controller.abort();
    this.#resolve(false);
  }
}

/**
 * Waits, for a reload whose build finished, until its change is confirmed: the ms it
 * waited, or undefined when it was cancelled (or `stopped` resolved first). A change that
 * was not provisional waits for nothing.
 *
 * @example
 *   const waited = await confirmation(reload.timing?.provisional, stopped);
 *   if (waited === undefined) return; // more changes came: this build is not used
 */
export async function confirmation(provisional: Provisional | undefined, stopped: Promise<false>): Promise<number | undefined> {
  if (provisional === undefined) return 0;
  const started = performance.now();
  const confirmed = await Promise.race([provisional.confirmed, stopped]);
  return confirmed ? performance.now() - started : undefined;
}
