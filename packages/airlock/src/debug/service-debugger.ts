import type { DebugPlan, ServicePlan } from '../config/plan.js';
import { AirlockError } from '../errors.js';
import type { EventBus } from '../events.js';
import { TcpProxy } from '../proxy/tcp-proxy.js';
import { findExecutable } from '../supervise/find-executable.js';
import { fillTemplate } from '../supervise/template.js';
import type { SpawnHook, SpawnPlan } from '../swap/generation.js';
import { delveControl } from './delve-control.js';
import { announcedPort, programWords, underDelve, underInspector } from './wrap.js';

/** How long a debugger client connecting between generations waits for the next one. */
const HOLD_MS = 30_000;

/** Whether this service's debugger can run here: dlv on PATH, and a run command dlv exec can take. */
function checkSetup(plan: ServicePlan): void {
  if (plan.debug?.kind !== 'delve') return;
  if (findExecutable('dlv', plan.dir, plan.run.env.PATH ?? process.env.PATH) === undefined) {
    throw new AirlockError('DEBUG_SETUP', `service "${plan.name}": debug.delve needs dlv on PATH, and there is none; install delve (Debian: apt-get install delve), or remove debug:`);
  }
  const filled = fillTemplate(plan.run.cmd, { artifact: '/artifact', port: '1', service: plan.name, generation: 1 });
  if (programWords(filled) === undefined) {
    throw new AirlockError('DEBUG_SETUP', `service "${plan.name}": debug.delve runs the program under dlv exec, and run.cmd "${plan.run.cmd}" needs a shell; make it a program and its arguments ({artifact} --flag) and put variables in run.env`);
  }
}

/**
 * One service's debugger: each generation runs under delve (or Node's inspector) on a
 * private port it announces, and one stable address is forwarded to the generation that
 * serves (a TCP proxy, as for handoff: tcp-proxy). An IDE attached there follows every
 * reload: a session stays with the generation it began on until that one ends, and the
 * next connection reaches the new one. A delve program paused at a breakpoint is held
 * (no probe fails it, no grace period kills it); a Node one is held while a client is
 * attached, since its inspector pauses inside the process where no /proc state shows it.
 *
 * @example
 *   const debug = await ServiceDebugger.open(plan, bus);
 *   new ServiceRunner(plan, bus, { spawnHooks: [debug.hook] });
 */
export class ServiceDebugger {
  readonly #proxy: TcpProxy;
  readonly #ports = new Map<number, number>();
  #serving: number | undefined;
  readonly #unsubscribe: () => void;

  private constructor(
    readonly plan: DebugPlan,
    private readonly service: string,
    private readonly bus: EventBus,
  ) {
    const onError = (message: string) => bus.emit({ type: 'notice', service, message: `debugger: ${message}` });
    this.#proxy = new TcpProxy({ service, host: plan.listen.host, port: plan.listen.port, holdMs: HOLD_MS, onError });
    this.#unsubscribe = bus.subscribe((event) => {
      if (event.service !== service) return;
      if (event.type === 'process.output') {
        const port = announcedPort(event.line);
        if (port === undefined) return;
        // The newest announcement wins: under npm or tsx the app's node starts last.
        this.#ports.set(event.generation, port);
        if (event.generation === this.#serving) this.#forward();
      } else if (event.type === 'reload.ready') {
        this.#serving = event.generation;
        this.#forward();
      } else if (event.type === 'process.exited') this.#ports.delete(event.generation);
    }, `${service} debugger`);
  }

  /** Checks that the debugger can run, and opens the stable address (refused at once when it is taken). */
  static async open(plan: ServicePlan, bus: EventBus): Promise<ServiceDebugger> {
    const debug = plan.debug as DebugPlan;
    checkSetup(plan);
    const debuggerFor = new ServiceDebugger(debug, plan.name, bus);
    try {
      await debuggerFor.#proxy.listen();
    } catch (error) {
      debuggerFor.#unsubscribe();
      throw new AirlockError('DEBUG_SETUP', `service "${plan.name}": cannot open debug.listen ${debug.listen.host}:${debug.listen.port}: ${(error as Error).message}; choose a free address`);
    }
    const how = debug.kind === 'delve' ? `dlv connect ${debug.listen.host}:${debug.listen.port}` : `chrome://inspect, or VS Code "attach" to port ${debug.listen.port}`;
    bus.emit({ type: 'notice', service: plan.name, message: `debugger on ${debug.listen.host}:${debug.listen.port} follows every reload (${how})` });
    return debuggerFor;
  }

  /** Wraps a generation's command in the debugger the plan in force asks for (none: as it is). */
  readonly hook: SpawnHook = (spawn, { plan, n }) => {
    if (plan.debug?.kind === 'delve') return this.#delve(spawn);
    if (plan.debug?.kind === 'inspect') return this.#inspect(spawn, n);
    return spawn;
  };

  #delve(spawn: SpawnPlan): SpawnPlan {
    const words = programWords(spawn.command);
    if (words === undefined) {
      this.bus.emit({ type: 'notice', service: this.service, message: `debugger: "${spawn.command}" needs a shell, which dlv exec cannot run; this generation runs without the debugger` });
      return spawn;
    }
    return { ...spawn, command: underDelve(words), control: delveControl() };
  }

  #inspect(spawn: SpawnPlan, n: number): SpawnPlan {
    const { command, env } = underInspector(spawn.command, spawn.env);
    // Held while a client is attached to this generation through the stable address.
    return { ...spawn, command, env, control: { held: () => this.#proxy.open(n) > 0 } };
  }

  /** New debugger connections go to the serving generation, once its debugger announced its port. */
  #forward(): void {
    const n = this.#serving;
    const port = n === undefined ? undefined : this.#ports.get(n);
    this.#proxy.setActive(n !== undefined && port !== undefined ? { generation: n, host: '127.0.0.1', port } : undefined);
  }

  async close(): Promise<void> {
    this.#unsubscribe();
    this.#proxy.destroy();
  }
}
