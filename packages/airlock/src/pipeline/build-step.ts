import { runBuild } from '../build/runner.js';
import type { BuildSlots } from '../build/slots.js';
import type { ServicePlan } from '../config/plan.js';
import { fullCode } from '../errors.js';
import type { EventBus } from '../events.js';
import { describeEnd } from '../supervise/process-end.js';
import { generationEnv } from '../config/environment.js';
import { fillTemplate, type BuildValues } from '../supervise/template.js';

export interface BuildStep {
  readonly plan: ServicePlan;
  readonly bus: EventBus;
  /** Where the build writes ({artifact}); '' when the build names none. */
  readonly artifactPath: string;
  readonly slots: BuildSlots | undefined;
  /** The env files as read for this reload. */
  readonly fileEnv: Readonly<Record<string, string>>;
  /** Says which generation keeps running, for the failure message ('' when none). */
  readonly keeps: () => string;
}

/** Why a build is cancelled: the AbortSignal's reason, and the event's `reason`. */
export const CANCEL_CHANGE = 'a newer change';
export const CANCEL_STOP = 'airlock is stopping';

function cancelReason(signal: AbortSignal): string {
  return signal.reason === CANCEL_STOP ? CANCEL_STOP : CANCEL_CHANGE;
}

/**
 * Builds generation n once a build slot is free, reporting every outcome as an event.
 * Returns true on success; on failure, timeout or cancellation the running generation is
 * untouched and false is returned.
 */
export async function buildGeneration(step: BuildStep, n: number, signal: AbortSignal): Promise<boolean> {
  const { plan, bus } = step;
  const build = plan.build;
  if (!build) return true;
  const service = plan.name;
  const release = await (step.slots?.acquire(signal) ?? (() => undefined));
  if (release === undefined) {
    bus.emit({ type: 'build.cancelled', service, generation: n, reason: cancelReason(signal) });
    return false;
  }
  try {
    const values: BuildValues = { artifact: step.artifactPath, service, generation: n };
    const cmd = fillTemplate(build.cmd, values);
    bus.emit({ type: 'build.started', service, generation: n, cmd });
    const outcome = await runBuild({
      cmd,
      cwd: build.cwd,
      env: generationEnv(plan, n, step.fileEnv),
      timeoutMs: build.timeoutMs,
      signal,
      onLine: (stream, line) => bus.emit({ type: 'build.output', service, generation: n, stream, line }),
    });
    const fail = (code: 'BUILD_FAILED' | 'BUILD_TIMEOUT', message: string, locations: readonly string[]) =>
      bus.emit({ type: 'build.failed', service, generation: n, code: fullCode(code), message, locations });
    switch (outcome.kind) {
      case 'ok':
        return true;
      case 'cancelled':
        bus.emit({ type: 'build.cancelled', service, generation: n, reason: cancelReason(signal) });
        return false;
      case 'timeout':
        fail('BUILD_TIMEOUT', `build did not finish within ${build.timeoutMs} ms and was killed`, []);
        return false;
      case 'failed': {
        const where = outcome.locations.length > 0 ? ` at ${outcome.locations.join(', ')}` : '';
        fail('BUILD_FAILED', `build ${describeEnd(outcome.end)}${where}${step.keeps()}`, outcome.locations);
        return false;
      }
    }
  } finally {
    release();
  }
}
