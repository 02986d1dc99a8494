import { controlRequest } from '../../control/client.js';
import { controlSocketPath } from '../../control/server.js';
import type { ServiceStatus } from '../../pipeline/runner.js';
import { AirlockError } from '../../errors.js';
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { findConfigFile } from '../../config/discover.js';
import type { GlobalOptions } from '../output.js';

/**
 * The control socket of the airlock that runs this project: beside --config, else (like
 * git) in the nearest directory at or above the current one where an airlock runs or an
 * airlock.yaml is, so `airlock status` works from any subdirectory. The file is not
 * validated: `status` must work while an edit of it is being refused.
 */
export function socketFor(options: GlobalOptions): string {
  if (options.config !== undefined) return controlSocketPath(dirname(resolve(options.config)));
  for (let dir = process.cwd(); ; dir = dirname(dir)) {
    const socket = controlSocketPath(dir);
    if (existsSync(socket) || findConfigFile(dir, undefined) !== undefined) return socket;
    if (dirname(dir) === dir) return controlSocketPath(process.cwd());
  }
}

export interface StatusBody {
  readonly services: ServiceStatus[];
  /** The last edit of airlock.yaml refused, until a valid one arrives. */
  readonly configRejected?: string;
}

function table({ services, configRejected }: StatusBody): string {
  const rows = [['SERVICE', 'STATE', 'GEN', 'PID', 'UPTIME', 'HANDOFF', 'LISTEN', 'OTHER GENERATIONS']];
  for (const s of services) {
    const others = [...s.starting.map((g) => `g${g.generation} starting (${g.pid})`), ...s.draining.map((g) => `g${g.generation} draining (${g.pid})`)];
    rows.push([
      s.name,
      s.state,
      s.generation === undefined ? '-' : `g${s.generation}`,
      s.pid === undefined ? '-' : String(s.pid),
      s.uptimeMs === undefined ? '-' : `${Math.round(s.uptimeMs / 1000)}s`,
      s.handoff,
      s.listen ?? '-',
      others.join(', ') || '-',
    ]);
  }
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((row) => (row[i] ?? '').length))) ?? [];
  const lines = rows.map((row) => row.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join('  ').trimEnd());
  for (const s of services) if (s.configRejected) lines.push(`${s.name}: config rejected, last good one in use: ${s.configRejected}`);
  for (const s of services) if (s.lastFailure) lines.push(`${s.name}: last reload failed: ${s.lastFailure}`);
  for (const s of services) {
    const r = s.rollout;
    if (r === undefined) continue;
    const where = r.state === 'running' || r.state === 'paused' ? `${r.state} at ${r.share} % (step ${r.step}/${r.steps.length})` : r.state;
    lines.push(`${s.name}: rollout of g${r.canary} against g${r.stable}: ${where}${r.lastDecision ? `; last: ${r.lastDecision.reason}` : ''} (airlock rollout status ${s.name})`);
  }
  if (configRejected) lines.push(`airlock.yaml: edit rejected, services run as before: ${configRejected}`);
  return lines.join('\n');
}

/** `airlock status [--json]`: the services of the airlock running here. */
export async function statusCommand(options: GlobalOptions & { json?: boolean }): Promise<void> {
  const { body } = await controlRequest<StatusBody>(socketFor(options), 'GET', '/status');
  process.stdout.write(options.json ? `${JSON.stringify(body, null, 2)}\n` : `${table(body)}\n`);
}

/** `airlock reload [SERVICE...]`: rebuild and swap now. */
export async function reloadCommand(names: readonly string[], options: GlobalOptions): Promise<void> {
  const query = names.map((name) => `service=${encodeURIComponent(name)}`).join('&');
  const { status, body } = await controlRequest<{ reloading?: string[]; error?: string }>(socketFor(options), 'POST', `/reload${query ? `?${query}` : ''}`);
  if (status !== 202) throw new AirlockError('CONFIG_UNKNOWN_SERVICE', body.error ?? `reload refused (${status})`);
  process.stdout.write(`reloading: ${(body.reloading ?? []).join(', ')}\n`);
}
