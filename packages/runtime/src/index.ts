/**
 * @airlock/runtime: zero-dependency helpers for Node services run by airlock. Each
 * feature is also a subpath export (`@airlock/runtime/env`, `@airlock/runtime/serve`).
 */
export { airlockEnv, type AirlockEnv } from './env/index.js';
export { serve, type ServeOptions, type Serving } from './serve/index.js';
