/**
 * airlock as a library: load a config, plan its services and run them with the same
 * engine as the CLI.
 *
 * @example
 *   import { discoverConfig, planServices, Daemon, EventBus } from '@airlock/cli';
 *   const { config, baseDir } = discoverConfig(process.cwd(), undefined, {});
 *   const daemon = new Daemon(await planServices(config, baseDir), new EventBus(), { watch: true });
 *   await daemon.start();
 */
export { discoverConfig, type ServiceFlags } from './config/discover.js';
export { loadConfigFile, parseConfigText, type LoadedConfig } from './config/load.js';
export { planServices, type ServicePlan } from './config/plan.js';
export { configSchema, jsonSchema, type Config } from './config/schema.js';
export { Daemon } from './daemon/daemon.js';
export { AirlockError, catalog, type ErrorCode } from './errors.js';
export { EventBus, type AirlockEvent } from './events.js';
