import { canConnect } from './port.js';
import { fail, pass, type Probe } from './probe.js';

/** Ready when something accepts a TCP connection on the address. */
export function tcpProbe(host: string, port: number, timeoutMs: number): Probe {
  return async () => ((await canConnect(host, port, timeoutMs)) ? pass(`TCP ${host}:${port} accepts`) : fail(`TCP ${host}:${port} refused or timed out`));
}
