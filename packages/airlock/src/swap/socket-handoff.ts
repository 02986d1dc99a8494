import type { ServicePlan } from '../config/plan.js';
import type { Supervised } from '../supervise/spawn.js';
import { forEachLine } from '../supervise/lines.js';
import type { Handoff, Launch, ProbeFactory } from './handoff.js';
import { holdListener, type HeldListener } from './listener.js';

/**
 * How long a generation may take to say hello on the gate before it is taken for a
 * plain LISTEN_FDS app, which is then ready once it has stayed up this long.
 */
export const PLAIN_SETTLE_MS = 1_000;

/** Drain grace the helpers use under `restart` (their default is 500 ms). */
export const RESTART_DRAIN_GRACE_MS = 100;

/** The descriptors every socket-handoff generation gets. */
export const FD = { listener: 3, probe: 4, gate: 5 } as const;

/** Resolves true when the first line on the gate is "hello", false after `ms`. */
function helloOn(child: Supervised, ms: number): Promise<boolean> {
  const gate = child.pipe(FD.gate);
  if (gate === undefined) return Promise.resolve(false);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    forEachLine(gate, (line) => {
      if (line.trim() === 'hello') {
        clearTimeout(timer);
        resolve(true);
      }
    });
    void child.ended.then(() => resolve(false));
  });
}

/**
 * `fd` and `restart` with `listen`: airlock binds the public address once and every
 * generation inherits it as fd 3 (LISTEN_FDS=1, LISTEN_FDNAMES=<service>, LISTEN_PID set
 * to its own pid). The gate protocol for apps that use the airlock helpers:
 *
 *   fd 4  a listener private to this generation: the helper serves the app on it at once,
 *         and airlock's health probe goes there.
 *   fd 5  a socket pair: the helper writes "hello\n" when it serves on fd 4; airlock writes
 *         "go\n" once the probe passed; only then does the helper accept from fd 3.
 *
 * A plain LISTEN_FDS app never says hello: it accepts from fd 3 as soon as it starts, and
 * is counted ready after PLAIN_SETTLE_MS alive (or by an exec or log probe).
 */
export class SocketHandoff implements Handoff {
  readonly stopsFirst: boolean;
  #public: HeldListener | undefined;
  /** The next generation's probe listener, bound ahead: binding forks a helper (~70 ms). */
  #spare: Promise<HeldListener> | undefined;

  constructor(
    private readonly plan: ServicePlan,
    mode: 'fd' | 'restart',
    private readonly probeFor: ProbeFactory,
  ) {
    this.stopsFirst = mode === 'restart';
  }

  async open(): Promise<void> {
    const listen = this.plan.listen as NonNullable<ServicePlan['listen']>;
    this.#public = await holdListener(listen.host, listen.port);
    this.#spare = this.#bindSpare();
  }

  /** Binds the next probe listener ahead; a failure shows when it is awaited, never as an unhandled rejection. */
  #bindSpare(): Promise<HeldListener> {
    const spare = holdListener('127.0.0.1', 0);
    spare.catch(() => undefined);
    return spare;
  }

  async launch(): Promise<Launch> {
    const shared = this.#public as HeldListener;
    const probe = await (this.#spare ?? holdListener('127.0.0.1', 0)).catch(() => holdListener('127.0.0.1', 0));
    this.#spare = this.#bindSpare();
    const stopsFirst = this.stopsFirst;
    const probeFor = this.probeFor;
    let gateOpen = false;
    // Only a helper that said hello reads the gate; writing to a plain app's unread socket
    // pair makes its close reset the pair.
    let saidHello = false;
    const env: Record<string, string> = {
        LISTEN_FDS: '1',
        LISTEN_FDNAMES: this.plan.name,
        PORT: String(shared.port),
        AIRLOCK_PROBE_FD: String(FD.probe),
        AIRLOCK_GATE_FD: String(FD.gate),
        // restart: new connections wait in the kernel while the old one drains, so keep it short.
        ...(stopsFirst ? { AIRLOCK_DRAIN_GRACE_MS: String(RESTART_DRAIN_GRACE_MS) } : {}),
    };
    return {
      env,
      extraFds: [shared.fd, probe.fd, 'pipe'],
      listenPid: true,
      async readiness(child) {
        if (await helloOn(child, PLAIN_SETTLE_MS)) {
          saidHello = true;
          // A TCP connect to fd 4 proves nothing (airlock holds it); the hello does: the app serves there.
          return { probe: probeFor({ host: '127.0.0.1', port: probe.port }, false, env), settleMs: 0 };
        }
        // Plain app: in restart mode it is alone on the public address, so HTTP/gRPC probes can go there.
        const address = stopsFirst ? { host: shared.host === '0.0.0.0' ? '127.0.0.1' : shared.host, port: shared.port } : undefined;
        return { probe: probeFor(address, false, env), settleMs: 0 };
      },
      promote(child) {
        if (gateOpen || !saidHello) return;
        gateOpen = true;
        const gate = child.pipe(FD.gate);
        if (gate !== undefined && gate.writable) gate.write('go\n', () => undefined);
      },
      release: () => probe.close(),
    };
  }

  route(): void {
    // Every generation accepts from the one shared socket; the gate decides when.
  }

  unavailable(): void {
    // The kernel queues connections on the held socket; airlock cannot answer them.
  }

  async retire(): Promise<void> {
    // The old generation drains itself after its stop signal (the helpers close the
    // listener, answer with Connection: close, and close what is left after a grace).
  }

  async close(): Promise<void> {
    this.destroy();
  }

  destroy(): void {
    this.#public?.close();
    void this.#spare?.then((spare) => spare.close(), () => undefined);
    this.#spare = undefined;
  }
}
