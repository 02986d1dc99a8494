/**
 * @airlock/runtime: zero-dependency helpers for Node services run by airlock. Each
 * feature is also a subpath export (`@airlock/runtime/env`, `@airlock/runtime/serve`, `@airlock/runtime/config`).
 */
export { config, onConfigChange, reloadConfig, validateConfig, type ConfigSnapshot } from './config/index.js';
export { airlockEnv, type AirlockEnv } from './env/index.js';
export { serve, type ServeOptions, type Serving } from './serve/index.js';
