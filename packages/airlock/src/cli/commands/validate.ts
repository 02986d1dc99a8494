import { relative } from 'node:path';
import { discoverConfig } from '../../config/discover.js';
import { planServices, type ServicePlan } from '../../config/plan.js';
import { GoGraph } from '../../build/go-graph.js';
import { checkAppConfig, describeRejection } from '../../live-config/app-config.js';
import { AirlockError } from '../../errors.js';
import type { GlobalOptions } from '../output.js';

/** The Go preset's own check, as `airlock dev` makes it: `go list` of each module its services are in. */
async function goProblems(plans: readonly ServicePlan[]): Promise<string[]> {
  const modules = new Map<string, Record<string, string>>();
  for (const plan of plans) if (plan.go) modules.set(plan.go.moduleDir, { ...modules.get(plan.go.moduleDir), [plan.name]: plan.go.main });
  const problems: string[] = [];
  for (const [moduleDir, mains] of modules) {
    try {
      await new GoGraph(moduleDir, mains).load();
    } catch (error) {
      problems.push(`${Object.keys(mains).join(', ')}: ${(error as Error).message}`);
    }
  }
  return problems;
}

/**
 * `airlock validate`: airlock.yaml (every problem with file:line:column), the Go
 * preset's `go list` of each module, then each service's app config files against its
 * JSON Schema, as a running airlock would check them before a generation sees them.
 *
 * @example
 *   airlock validate   # airlock.yaml: ok (2 services: api, worker)
 */
export async function validateCommand(options: GlobalOptions): Promise<void> {
  const loaded = discoverConfig(process.cwd(), options.config, {});
  const names = Object.keys(loaded.config.services);
  const lines = [`${loaded.file ? relative(process.cwd(), loaded.file) : 'flags'}: ok (${names.length} service${names.length === 1 ? '' : 's'}: ${names.join(', ')})`];
  const problems: string[] = [];
  const shown = (file: string) => relative(process.cwd(), file);
  const plans = await planServices(loaded.config, loaded.baseDir);
  const go = await goProblems(plans);
  if (go.length > 0) throw new AirlockError('PRESET_GO', `the Go preset cannot read ${go.length === 1 ? 'a module' : `${go.length} modules`}`, { details: go.flatMap((problem) => problem.split('\n')) });
  for (const plan of plans) {
    const app = plan.appConfig;
    if (!app) continue;
    const snapshot = await checkAppConfig(app, 0);
    if (!snapshot.ok) problems.push(`${describeRejection(snapshot.rejection, shown)} (service ${plan.name})`);
    else lines.push(`${plan.name}: ${app.files.map(shown).join(', ')} valid${app.schema ? ` against ${shown(app.schema)}` : ''}`);
  }
  if (problems.length > 0) {
    throw new AirlockError('CONFIG_REJECTED', `${problems.length} app config problem${problems.length === 1 ? '' : 's'}`, { details: problems });
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}
