import type { KV } from '@nats-io/kv';
import { BUCKET_TTL_MS } from './buckets.js';

/** How long a lease lives unrenewed: a holder killed mid-way frees it within this. */
export const LEASE_TTL_MS = BUCKET_TTL_MS.lease;

/**
 * A lease on one key of a TTL bucket, by compare-and-set: `create` takes it when no one
 * holds it (or the holder's last renewal aged out), each renewal is an `update` on the
 * revision this holder wrote, so a holder that lost it (paused past the TTL, another took
 * over) finds out at its next renewal instead of acting on as if it still held it.
 *
 * @example
 *   const lease = new Lease(bucket, 'web.stable', 'controller on host-a');
 *   await lease.acquire(30_000, (holder) => console.log(`waiting for ${holder}`));
 *   …
 *   await lease.release();
 */
export class Lease {
  #revision: number | undefined;
  #timer: NodeJS.Timeout | undefined;
  #lost: string | undefined;

  constructor(
    private readonly bucket: KV,
    private readonly key: string,
    private readonly holder: string,
    private readonly ttlMs = LEASE_TTL_MS,
  ) {}

  /** Why this holder no longer holds the lease (renewal refused), or undefined while it does. */
  get lost(): string | undefined {
    return this.#lost;
  }

  /** Who holds it now, or undefined when free. */
  async heldBy(): Promise<string | undefined> {
    const entry = await this.bucket.get(this.key);
    return entry === null || entry.operation !== 'PUT' ? undefined : new TextDecoder().decode(entry.value);
  }

  /** Takes the lease, waiting up to `waitMs` for another holder's to end; false if it did not. Renews itself until release(). */
  async acquire(waitMs: number, onWait?: (holder: string) => void): Promise<boolean> {
    const until = Date.now() + waitMs;
    let said: string | undefined;
    for (;;) {
      try {
        this.#revision = await this.bucket.create(this.key, new TextEncoder().encode(this.holder));
        break;
      } catch (error) {
        if (!/wrong last sequence/i.test((error as Error).message ?? '')) throw error;
        const holder = (await this.heldBy()) ?? 'another holder';
        if (holder !== said) onWait?.(holder);
        said = holder;
        if (Date.now() >= until) return false;
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    }
    this.#lost = undefined;
    this.#timer = setInterval(() => void this.#renew(), Math.max(100, this.ttlMs / 4));
    this.#timer.unref();
    return true;
  }

  async #renew(): Promise<void> {
    if (this.#revision === undefined) return;
    try {
      this.#revision = await this.bucket.update(this.key, new TextEncoder().encode(this.holder), this.#revision);
    } catch (error) {
      const message = (error as Error).message ?? String(error);
      // A server briefly away is not a lost lease: the next renewal tries again within the TTL.
      if (!/wrong last sequence/i.test(message)) return;
      // The entry changed under us: aged out while the server was away (then it is free to
      // take again), or another holder has it (then this one stops).
      try {
        this.#revision = await this.bucket.create(this.key, new TextEncoder().encode(this.holder));
      } catch {
        this.#lost = `the lease on ${this.key} was taken by ${(await this.heldBy().catch(() => undefined)) ?? 'another holder'}`;
        this.#stopRenewing();
      }
    }
  }

  #stopRenewing(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Gives the lease up (only if still this holder's). */
  async release(): Promise<void> {
    this.#stopRenewing();
    const revision = this.#revision;
    this.#revision = undefined;
    if (revision === undefined || this.#lost !== undefined) return;
    await this.bucket.delete(this.key, { previousSeq: revision }).catch(() => undefined);
  }
}
