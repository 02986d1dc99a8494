import { relative } from 'node:path';
import { discoverConfig } from '../../config/discover.js';
import { planServices } from '../../config/plan.js';
import { checkAppConfig, describeRejection } from '../../daemon/app-config.js';
import { AirlockError } from '../../errors.js';
import type { GlobalOptions } from '../output.js';

/**
 * `airlock validate`: airlock.yaml (every problem with file:line:column), then each
 * service's app config files against its JSON Schema, as a running airlock would check
 * them before a generation sees them.
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
  for (const plan of await planServices(loaded.config, loaded.baseDir)) {
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
