import { controlRequest } from '../../control/client.js';
import { controlSocketPath } from '../../control/server.js';
import type { DaemonStatus } from '../../daemon/daemon.js';
import type { GenerationRecord } from '../../observe/generation-records.js';
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
  readonly services: DaemonStatus[];
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
  for (const s of services) {
    for (const plugin of s.remotePlugins ?? []) lines.push(`${s.name}: plugin ${plugin.name} ${plugin.version} from its channel, sha256 ${plugin.sha256.slice(0, 12)}, sandboxed: ${plugin.grants}`);
  }
  if (configRejected) lines.push(`airlock.yaml: edit rejected, services run as before: ${configRejected}`);
  return lines.join('\n');
}

/** A generation's figures as `status --compare` prints them. */
function figures(g: GenerationRecord | undefined): string[] {
  if (g === undefined) return ['-', '-', '-', '-', '-'];
  const mib = g.memoryPeakBytes === undefined ? '-' : `${(g.memoryPeakBytes / 1024 / 1024).toFixed(1)} MiB`;
  const share = g.share2xx === undefined ? '-' : `${(g.share2xx * 100).toFixed(g.share2xx === 1 ? 0 : 2)} %`;
  const p99 = g.p99Ms === undefined ? '-' : `${g.p99Ms.toFixed(1)} ms`;
  return [`${Math.round(g.startupMs)} ms`, mib, share, p99, g.requests.toLocaleString('en-US')];
}

/**
 * `airlock status --compare`: per service, the serving generation beside the one before
 * it, so a regression (slower start, more memory, fewer 2xx, a higher p99) shows at once.
 */
function compareTable({ services }: StatusBody): string {
  const labels = ['start-up', 'memory peak', '2xx', 'p99', 'requests'];
  const blocks: string[] = [];
  for (const s of services) {
    const { serving, previous } = s.compare ?? {};
    if (serving === undefined) {
      blocks.push(`${s.name}: no generation has been ready yet`);
      continue;
    }
    const rows = [[s.name, `g${serving.generation} (serving)`, previous ? `g${previous.generation} (before)` : '(none before)']];
    const now = figures(serving);
    const before = figures(previous);
    labels.forEach((label, i) => rows.push([label, now[i] ?? '-', before[i] ?? '-']));
    const widths = [0, 1, 2].map((i) => Math.max(...rows.map((row) => (row[i] ?? '').length)));
    blocks.push(rows.map((row) => row.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join('  ').trimEnd()).join('\n'));
  }
  return blocks.join('\n\n');
}

/** `airlock status [--json] [--compare]`: the services of the airlock running here. */
export async function statusCommand(options: GlobalOptions & { json?: boolean; compare?: boolean }): Promise<void> {
  const { body } = await controlRequest<StatusBody>(socketFor(options), 'GET', '/status');
  process.stdout.write(options.json ? `${JSON.stringify(body, null, 2)}\n` : `${options.compare ? compareTable(body) : table(body)}\n`);
}

/** `airlock reload [SERVICE...]`: rebuild and swap now. */
export async function reloadCommand(names: readonly string[], options: GlobalOptions): Promise<void> {
  const query = names.map((name) => `service=${encodeURIComponent(name)}`).join('&');
  const { status, body } = await controlRequest<{ reloading?: string[]; error?: string }>(socketFor(options), 'POST', `/reload${query ? `?${query}` : ''}`);
  if (status !== 202) throw new AirlockError('CONFIG_UNKNOWN_SERVICE', body.error ?? `reload refused (${status})`);
  process.stdout.write(`reloading: ${(body.reloading ?? []).join(', ')}\n`);
}
