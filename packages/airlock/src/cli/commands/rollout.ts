import { controlRequest } from '../../control/client.js';
import type { ServiceStatus } from '../../pipeline/runner.js';
import { AirlockError } from '../../errors.js';
import type { RolloutFigures } from '../../events.js';
import type { RolloutStatus } from '../../rollout/canary.js';
import type { GlobalOptions } from '../output.js';
import { socketFor, type StatusBody } from './control.js';

const ms = (value: number | undefined) => (value === undefined ? '-' : `${value < 10 ? value.toFixed(1) : Math.round(value)} ms`);

function figuresRow(side: string, f: RolloutFigures): string[] {
  return [`${side} g${f.generation}`, String(f.requests), String(f.errors), `${(f.errorRate * 100).toFixed(2)} %`, ms(f.p50Ms), ms(f.p99Ms)];
}

function columns(rows: string[][]): string[] {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((row) => (row[i] ?? '').length))) ?? [];
  return rows.map((row) => row.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join('  ').trimEnd());
}

/** One service's rollout as `airlock rollout status` prints it. */
export function describeRollout(name: string, r: RolloutStatus): string {
  const lines = [`${name}: canary g${r.canary} against stable g${r.stable} · ${r.state} · step ${r.step}/${r.steps.length} [${r.steps.join(', ')}] · share ${r.share} % · group ${r.group}`];
  lines.push(`  failed windows ${r.failedWindows} of ${r.failureLimit} allowed`);
  const heading = r.state === 'running' || r.state === 'paused' ? 'window so far' : 'deciding window';
  lines.push(...columns([[heading, 'requests', 'errors', 'error rate', 'p50', 'p99'], figuresRow('canary', r.window.canary), figuresRow('stable', r.window.stable)]).map((line) => `  ${line}`));
  const apart = (f: RolloutFigures) => `${f.forced ?? 0} forced, ${f.disconnects ?? 0} gave up, ${f.hanging ?? 0} hung (in errors)`;
  lines.push(`  not judged: canary ${apart(r.window.canary)}; stable ${apart(r.window.stable)}`);
  if (r.comparison) lines.push(`  last judged window: canary's error rate above stable's with ${(r.comparison.confidence * 100).toFixed(2)} % confidence · score ${r.comparison.score}/100`);
  if (r.lastDecision) lines.push(`  last decision: ${r.lastDecision.type} at ${r.lastDecision.at}: ${r.lastDecision.reason}`);
  return lines.join('\n');
}

/** `airlock rollout status [SERVICE] [--json]`: share, step, window figures of both sides, the last decision and why. */
export async function rolloutStatusCommand(name: string | undefined, options: GlobalOptions & { json?: boolean }): Promise<void> {
  const { body } = await controlRequest<StatusBody>(socketFor(options), 'GET', '/status');
  const services: ServiceStatus[] = body.services.filter((s) => name === undefined || s.name === name);
  if (name !== undefined && services.length === 0) {
    throw new AirlockError('CONFIG_UNKNOWN_SERVICE', `no service named ${name}; defined: ${body.services.map((s) => s.name).join(', ')}`);
  }
  if (options.json) {
    process.stdout.write(`${JSON.stringify(Object.fromEntries(services.map((s) => [s.name, s.rollout ?? null])), null, 2)}\n`);
    return;
  }
  const text = services.map((s) => (s.rollout ? describeRollout(s.name, s.rollout) : `${s.name}: no rollout yet${s.handoff === 'proxy' ? '' : ` (handoff ${s.handoff}: canaries need proxy)`}`));
  process.stdout.write(`${text.join('\n')}\n`);
}

/** `airlock rollout promote|abort|pause|resume SERVICE`. */
export async function rolloutActionCommand(name: string, action: 'promote' | 'promote-full' | 'abort' | 'pause' | 'resume', options: GlobalOptions): Promise<void> {
  const path = `/rollout?service=${encodeURIComponent(name)}&action=${action}`;
  const { status, body } = await controlRequest<{ error?: string; rollout?: RolloutStatus }>(socketFor(options), 'POST', path);
  if (status === 404) throw new AirlockError('CONFIG_UNKNOWN_SERVICE', body.error ?? `no service named ${name}`);
  if (status !== 200) throw new AirlockError('ROLLOUT_NONE', body.error ?? `rollout ${action} refused (${status})`);
  process.stdout.write(`${body.rollout ? describeRollout(name, body.rollout) : `${name}: ${action} done`}\n`);
}
