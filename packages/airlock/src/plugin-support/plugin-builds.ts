import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';

/** The files one build attempt of a plugin may leave: the library, its unchecked form, its overlay map. */
const SUFFIXES = ['so', 'so.building', 'overlay.json'];

/**
 * The plugin builds airlock itself wrote into the plugins directory, by number: only
 * these are ever pruned, so a file someone else put there (a `greet.94.so` copied in by
 * hand) neither counts as a newer build nor gets deleted, and never makes airlock delete
 * its own newest build (it did: "build 3 ready", then gone).
 *
 * @example
 *   const record = new PluginBuildRecord(5);
 *   record.wrote('greet', 7);     // after writing greet.7.overlay.json (and greet.7.so)
 *   record.prune(out, 'greet');   // removes greet.2.* and older of airlock's own
 */
export class PluginBuildRecord {
  readonly #written = new Map<string, number[]>();

  constructor(private readonly keep: number) {}

  /** A build attempt numbered `n` of `name` wrote its files. */
  wrote(name: string, n: number): void {
    const own = this.#written.get(name) ?? [];
    if (!own.includes(n)) own.push(n);
    this.#written.set(name, own);
  }

  /** Removes airlock's own attempts of `name` older than its newest `keep`; nothing else in `out`. */
  prune(out: string, name: string): void {
    const own = (this.#written.get(name) ?? []).sort((a, b) => a - b);
    const newest = own.at(-1);
    if (newest === undefined) return;
    const gone = own.filter((n) => n <= newest - this.keep);
    for (const n of gone) {
      for (const suffix of SUFFIXES) {
        const file = join(out, `${name}.${n}.${suffix}`);
        if (existsSync(file)) rmSync(file, { force: true });
      }
    }
    this.#written.set(name, own.filter((n) => !gone.includes(n)));
  }
}
