#!/usr/bin/env node
// The `airlock` command: a file that exists in a fresh clone, so `npm ci` links it into
// node_modules/.bin (npm links no bin whose target is missing, and dist/ is built later).
import { existsSync } from 'node:fs';

const main = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(main)) {
  process.stderr.write('airlock: not built yet: run `npm run build` in the airlock clone first\n');
  process.exit(1);
}
await import(main.href);
