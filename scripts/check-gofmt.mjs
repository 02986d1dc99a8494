// Fails when a Go file in the repository is not gofmt-formatted (lint for the Go side).
import { execFileSync } from 'node:child_process';

const dirs = ['go', 'examples'];
const out = execFileSync('gofmt', ['-l', ...dirs], { encoding: 'utf8' }).trim();
if (out !== '') {
  console.error(`gofmt would change:\n${out}\nrun: gofmt -w ${dirs.join(' ')}`);
  process.exit(1);
}
