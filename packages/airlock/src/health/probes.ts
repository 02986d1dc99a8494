import type { HealthPlan } from '../config/plan.js';
import { execProbe } from './exec.js';
import { grpcProbe } from './grpc.js';
import { httpProbe } from './http.js';
import type { Probe } from './probe.js';
import { tcpProbe } from './tcp.js';

/** Where a generation can be probed without reaching any other generation. */
export interface ProbeAddress {
  readonly host: string;
  readonly port: number;
}

export interface ProbeContext {
  readonly health: HealthPlan;
  readonly address: ProbeAddress | undefined;
  readonly cwd: string;
  readonly env: Readonly<Record<string, string>>;
  /** Output-line probe of this generation, fed by the service pipeline. */
  readonly logProbe: Probe | undefined;
}

/**
 * The configured readiness probe for one generation, or undefined when it has no way to
 * be probed on its own (an address probe without a private address).
 */
export function buildProbe(context: ProbeContext): Probe | undefined {
  const { health, address } = context;
  const probe = health.probe;
  if (probe === undefined) return undefined;
  switch (probe.kind) {
    case 'exec':
      return execProbe(probe.cmd, context.cwd, context.env, health.timeoutMs);
    case 'log':
      return context.logProbe;
    case 'http':
      return address && httpProbe(address.host, address.port, probe.path, probe.status, health.timeoutMs);
    case 'grpc':
      return address && grpcProbe(address.host, address.port, probe.service, health.timeoutMs);
    case 'tcp':
      return address && tcpProbe(address.host, address.port, health.timeoutMs);
  }
}

