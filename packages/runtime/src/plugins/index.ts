/**
 * `@airlock/runtime/plugins`: swap parts of a running Node service without restarting it
 * (docs/plugins.md). Zero dependencies.
 *
 * @example
 *   import { PluginHost } from '@airlock/runtime/plugins';
 *   const host = new PluginHost({ dir: new URL('./plugins', import.meta.url).pathname });
 *   await host.start();
 *   const text = await host.call('greet', 'hello', 'ada');
 */
export { PluginHost, PLUGIN_API_VERSION, type PluginEvent, type PluginHostOptions, type PluginInfo, type PluginState } from './host.js';
export { ContractError, type Contract, type StandardSchema } from './contract.js';
export { ManifestError, readManifest, type Manifest } from './manifest.js';
export { PluginTimeout } from './instance.js';
export { noticesFromEnv, type AirlockNotices } from './airlock-notices.js';
export { satisfies } from './semver.js';
