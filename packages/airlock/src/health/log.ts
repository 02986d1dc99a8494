import { fail, pass, type Probe } from './probe.js';

/**
 * Ready once a line of the generation's output matches the pattern; stays passed after.
 * Feed it lines with `see`.
 */
export class LogProbe {
  readonly #pattern: RegExp;
  #matched: string | undefined;

  constructor(pattern: string) {
    this.#pattern = new RegExp(pattern);
  }

  see(line: string): void {
    if (this.#matched === undefined && this.#pattern.test(line)) this.#matched = line;
  }

  readonly probe: Probe = async () =>
    this.#matched !== undefined ? pass(`log line matched: ${this.#matched}`) : fail(`no output line matched /${this.#pattern.source}/ yet`);
}
