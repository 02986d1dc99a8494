import { join, relative } from 'node:path';
import type { ServicePlan } from './plan.js';

/** At most this many paths go into AIRLOCK_CHANGED_PATHS (a checkout may change thousands). */
export const CHANGED_PATHS_MAX = 100;
/** And at most this many bytes: one environment string may not exceed 128 KiB on Linux. */
const CHANGED_PATHS_BYTES = 16 * 1024;

/**
 * What changed, for the build and run commands (after watchexec's WATCHEXEC_*_PATH):
 * AIRLOCK_CHANGED_PATHS, the changed files relative to the service's dir, one per line,
 * capped at CHANGED_PATHS_MAX (and 16 KiB); AIRLOCK_CHANGED_COUNT, how many changed in
 * all, so a script can tell a capped list from a whole one. Nothing for a reload that no
 * file change asked for (start, a crash restart, `airlock reload`).
 *
 * @example
 *   changedPathsEnv(plan, new Set(['cmd/api/main.go'])); // { AIRLOCK_CHANGED_PATHS: 'main.go', AIRLOCK_CHANGED_COUNT: '1' }
 */
export function changedPathsEnv(plan: ServicePlan, changed: ReadonlySet<string>): Record<string, string> {
  if (changed.size === 0) return {};
  const listed: string[] = [];
  let bytes = 0;
  for (const path of [...changed].sort()) {
    const fromDir = relative(plan.dir, join(plan.watch.root, path)).split('\\').join('/');
    if (listed.length === CHANGED_PATHS_MAX || bytes + fromDir.length + 1 > CHANGED_PATHS_BYTES) break;
    listed.push(fromDir);
    bytes += fromDir.length + 1;
  }
  return { AIRLOCK_CHANGED_PATHS: listed.join('\n'), AIRLOCK_CHANGED_COUNT: String(changed.size) };
}
