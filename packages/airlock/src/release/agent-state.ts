import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { writeAtomic } from '../atomic-file.js';

/** What an agent remembers of one service's channel, across restarts. */
export interface AgentState {
  /** The highest version seen applied: a channel offering only lower ones is a replay. */
  readonly highest: number;
  /** The version that took traffic last, and its file's sha256. */
  readonly applied: { readonly version: number; readonly sha256: string } | undefined;
  /** Version → why it was marked bad (failed its gate, rolled back): never applied again. */
  readonly bad: Readonly<Record<string, string>>;
}

const EMPTY: AgentState = { highest: 0, applied: undefined, bad: {} };

/**
 * An agent's state file for one service: read at start, written (temp, fsync, rename)
 * before anything acts on a change, so a kill at any point leaves the old state or the
 * new one, and a bad mark is never forgotten.
 *
 * @example
 *   const state = new AgentStateFile('.airlock/release/api/state.json');
 *   state.update((s) => ({ ...s, bad: { ...s.bad, 7: 'failed its gate' } }));
 */
export class AgentStateFile {
  #state: AgentState;

  constructor(private readonly file: string) {
    this.#state = existsSync(file) ? { ...EMPTY, ...(JSON.parse(readFileSync(file, 'utf8')) as Partial<AgentState>) } : EMPTY;
  }

  get state(): AgentState {
    return this.#state;
  }

  update(change: (state: AgentState) => AgentState): AgentState {
    const next = change(this.#state);
    mkdirSync(dirname(this.file), { recursive: true });
    writeAtomic(this.file, `${JSON.stringify(next, null, 1)}\n`);
    this.#state = next;
    return next;
  }
}
