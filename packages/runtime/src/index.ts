/**
 * @airlock/runtime: zero-dependency helpers for Node services run by airlock. Each
 * feature is also a subpath export (`@airlock/runtime/env`).
 */
export { airlockEnv, type AirlockEnv } from './env/index.js';
