import { discoverConfig, type ServiceFlags } from '../../config/discover.js';
import { planServices } from '../../config/plan.js';
import { AirlockError } from '../../errors.js';
import { AirlockHost } from '../../daemon/host.js';
import { subscribeJson } from '../../observe/json.js';
import { subscribePretty } from '../../observe/pretty.js';
import { boundedWriter } from '../../observe/bounded-writer.js';
import { paletteFor, type GlobalOptions } from '../output.js';
import { installFatalHandler } from '../fatal.js';
import { ownOutputFiles } from '../own-output.js';

/**
 * `airlock dev`, `airlock run` and `airlock agent`: the chosen services under one `AirlockHost` (signals,
 * control socket, airlock.yaml edits: see there), with the log output the global options
 * ask for. Resolves with the exit code; main.ts exits with it.
 */
export async function runDaemon(names: readonly string[], flags: ServiceFlags, options: GlobalOptions, mode: 'dev' | 'run' | 'agent'): Promise<number> {
  const loaded = discoverConfig(process.cwd(), options.config, flags);
  const plans = await planServices(loaded.config, loaded.baseDir, names);
  if (mode === 'agent' && !plans.some((plan) => plan.release !== undefined)) {
    throw new AirlockError('USAGE_FLAG', `airlock agent runs services with release: in airlock.yaml, and none of ${plans.map((plan) => plan.name).join(', ')} has it; add release: { from, channel, trust } (docs/releases.md), or use airlock run`);
  }
  const watch = mode === 'dev';
  const write = boundedWriter(process.stdout);
  const verbosity = options.quiet ? 'quiet' : options.verbose ? 'verbose' : 'normal';
  const host = await AirlockHost.open({
    loaded,
    names,
    plans,
    watch,
    ownOutput: ownOutputFiles(),
    observe: (bus) => {
      if (options.logFormat === 'json') subscribeJson(bus, write);
      else subscribePretty(bus, { services: plans.map((plan) => plan.name), palette: paletteFor(options), verbosity, write });
    },
    // Said on stderr in pretty mode (JSON output stays events only).
    say: (text) => void (options.logFormat === 'pretty' && !options.quiet && process.stderr.write(`airlock: ${text}\n`)),
  });
  installFatalHandler(() => host.killNow(), options, paletteFor(options, process.stderr));
  return host.run();
}
