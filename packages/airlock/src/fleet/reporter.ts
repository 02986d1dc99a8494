import type { KV } from '@nats-io/kv';
import { parseLocation, type NatsLocation } from '../config/release-location.js';
import type { ServicePlan } from '../config/plan.js';
import { fullCode } from '../errors.js';
import type { AirlockEvent, EventBus } from '../events.js';
import { ttlBucket } from '../release/nats/buckets.js';
import { natsConnection } from '../release/nats/shared.js';
import { AnswerCounts } from './counting.js';
import { HEARTBEAT_EVERY_MS, heartbeatKey, type Heartbeat } from './heartbeat.js';

/** One service's heartbeat as the events tell it. */
class ServiceBeat {
  readonly counts: AnswerCounts;
  version: number | undefined;
  sha256: string | undefined;
  generation: number | undefined;
  canary = false;
  problem: string | undefined;
  refused: number | undefined;

  constructor(
    readonly plan: ServicePlan,
    readonly location: NatsLocation,
  ) {
    this.counts = new AnswerCounts(plan.name);
  }

  heard(event: AirlockEvent): void {
    if (event.type === 'release.applied') {
      Object.assign(this, { version: event.version, sha256: event.sha256, generation: event.generation, canary: event.canary === true, problem: undefined, refused: undefined });
    } else if (event.type === 'release.refused' || event.type === 'release.rolled_back') {
      this.problem = event.type === 'release.refused' ? event.message : `release ${event.version} rolled back: ${event.reason}`;
      // NATS away is not a refusal of the release: a rollout must not abort on it.
      this.refused = event.code === fullCode('NATS_UNREACHABLE') ? undefined : event.version;
    }
  }

  beat(host: string): Heartbeat {
    const state = this.version === undefined ? 'starting' : this.problem !== undefined ? 'refused' : 'serving';
    return {
      host,
      service: this.plan.name,
      channel: this.plan.release?.channel ?? '',
      ...(this.version === undefined ? {} : { version: this.version, sha256: this.sha256, generation: this.generation }),
      canary: this.canary,
      state,
      ...(this.problem === undefined ? {} : { message: this.problem.slice(0, 500), ...(this.refused === undefined ? {} : { refused: this.refused }) }),
      at: new Date().toISOString(),
      figures: this.counts.of(this.generation ?? 0),
    };
  }
}

/**
 * An agent's heartbeats: for each service that takes its releases from a `nats://`
 * repository, every HEARTBEAT_EVERY_MS, its host id, release, generation, state and the
 * serving generation's answer counts, written to SERVICE.HOST in the repository's hosts
 * bucket (a TTL bucket: a host that stops beating drops out by itself). While NATS is
 * away nothing is written and nothing else changes; the services keep serving.
 *
 * @example
 *   const reporter = FleetReporter.start(plans, bus, 'host-a');
 *   await reporter?.close();
 */
export class FleetReporter {
  readonly #beats: ServiceBeat[];
  readonly #timer: NodeJS.Timeout;
  readonly #unsubscribe: () => void;
  #writing = false;

  private constructor(
    beats: ServiceBeat[],
    bus: EventBus,
    private readonly host: string,
  ) {
    this.#beats = beats;
    this.#unsubscribe = bus.subscribe((event) => {
      for (const beat of this.#beats) if (event.service === beat.plan.name) beat.heard(event);
    }, 'the fleet heartbeats');
    this.#timer = setInterval(() => void this.#write(), HEARTBEAT_EVERY_MS);
  }

  /** Starts beating for the plans with a nats:// release; undefined when none has one. */
  static start(plans: readonly ServicePlan[], bus: EventBus, host: string): FleetReporter | undefined {
    const beats: ServiceBeat[] = [];
    for (const plan of plans) {
      if (plan.release === undefined) continue;
      const location = parseLocation(plan.release.from);
      if (location.kind === 'nats') beats.push(new ServiceBeat(plan, location));
    }
    return beats.length === 0 ? undefined : new FleetReporter(beats, bus, host);
  }

  readonly #buckets = new Map<string, Promise<KV>>();

  #bucket(location: NatsLocation): Promise<KV> {
    let bucket = this.#buckets.get(location.display);
    if (bucket === undefined) {
      bucket = natsConnection(location, `airlock agent @${this.host}`).then((nc) => ttlBucket(nc, location, 'hosts'));
      // Not kept when it failed: tried again at the next beat.
      bucket.catch(() => this.#buckets.delete(location.display));
      this.#buckets.set(location.display, bucket);
    }
    return bucket;
  }

  async #write(): Promise<void> {
    // A beat that has not gone out yet (NATS away) is not queued behind another.
    if (this.#writing) return;
    this.#writing = true;
    try {
      for (const beat of this.#beats) {
        const bucket = await this.#bucket(beat.location);
        await bucket.put(heartbeatKey(beat.plan.name, this.host), JSON.stringify(beat.beat(this.host)));
      }
    } catch {
      // NATS is away or refused: the next beat tries again; the services are not concerned.
    } finally {
      this.#writing = false;
    }
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    this.#unsubscribe();
    for (const beat of this.#beats) beat.counts.close();
  }
}
