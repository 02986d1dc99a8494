import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { readEnvFile } from '../src/config/env-file.ts';
import { loadConfigFile, parseConfigText } from '../src/config/load.ts';
import { AirlockError } from '../src/errors.ts';
import type { ServicePlan } from '../src/config/plan.ts';
import { proxyWorkers } from '../src/swap/create.ts';

/** Values that used to pass validate and fail at start as INTERNAL (or silently mean something else). */
const root = mkdtempSync(join(tmpdir(), 'airlock-values-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
function project(files: Record<string, string | Buffer> = {}): string {
  const dir = join(root, String(n++));
  mkdirSync(dir);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}
function problems(text: string, dir = project()): string[] {
  try {
    parseConfigText(text, join(dir, 'airlock.yaml'));
  } catch (error) {
    assert.ok(error instanceof AirlockError, String(error));
    return [...error.details];
  }
  return [];
}

describe('values a process cannot be started with are refused by validate, located', () => {
  it('refuses a NUL byte in run.cmd, build.cmd and run.env', () => {
    assert.deepEqual(problems('services:\n  api:\n    run: { cmd: "node\\0 app.js", env: { A: "x\\0y" } }\n    build: { cmd: "make\\0" }\n'), [
      'airlock.yaml:3:17: services.api.run.cmd: contains a NUL byte (\\0), which no command or environment can hold: remove it',
      'airlock.yaml:3:44: services.api.run.env.A: contains a NUL byte (\\0), which no command or environment can hold: remove it',
      'airlock.yaml:4:19: services.api.build.cmd: contains a NUL byte (\\0), which no command or environment can hold: remove it',
    ]);
  });

  it('refuses an environment value over 128 KiB (Linux refuses to start the process: E2BIG)', () => {
    const big = 'x'.repeat(128 * 1024);
    assert.deepEqual(problems(`services:\n  api:\n    run: { cmd: x, env: { BIG: "${big}" } }\n`), [
      'airlock.yaml:3:32: services.api.run.env.BIG: "BIG=…" is 131076 bytes; Linux starts no process with an environment string of 128 KiB (131072 bytes) or more (E2BIG): pass it in a file instead',
    ]);
  });

  it('reads an env file with a UTF-8 BOM as the editor meant it, and refuses NUL, a quote left open and an oversized value at their line', () => {
    const dir = project({
      'bom.env': Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('KEY=1\nOTHER=2\n')]),
      'nul.env': 'A=1\nB=x\0y\n',
      'open.env': 'A=1\nB="no end\nC=3\nD="quoted"\n',
      'multi.env': 'CERT="line one\nline two"\nNEXT=1\n',
      'big.env': `A=1\nBIG=${'x'.repeat(128 * 1024)}\n`,
    });
    assert.deepEqual(readEnvFile(join(dir, 'bom.env')), { KEY: '1', OTHER: '2' });
    assert.deepEqual(readEnvFile(join(dir, 'multi.env')), { CERT: 'line one\nline two', NEXT: '1' });
    const refused = (file: string) => assert.throws(() => readEnvFile(join(dir, file)), (error: AirlockError) => error.code === 'ENV_FILE');
    for (const file of ['nul.env', 'open.env', 'big.env']) refused(file);
    assert.throws(() => readEnvFile(join(dir, 'nul.env')), /nul\.env:2: contains a NUL byte/);
    assert.throws(() => readEnvFile(join(dir, 'open.env')), /open\.env:2: the " opened here is not closed on its line, so C on line 3 would be part of B's value: close it/);
    assert.throws(() => readEnvFile(join(dir, 'big.env')), /big\.env:2: "BIG=…" is 131076 bytes/);
    assert.deepEqual(problems('services:\n  api:\n    run: { cmd: x, envFile: open.env }\n', dir), [
      `airlock.yaml:3:29: services.api.run.envFile: ${join(dir, 'open.env')}:2: the " opened here is not closed on its line, so C on line 3 would be part of B's value: close it`,
    ]);
  });

  it('says a dir that is a symlink loop is one, not that it does not exist', () => {
    const dir = project();
    symlinkSync(join(dir, 'loop'), join(dir, 'loop'));
    assert.deepEqual(problems('services:\n  api:\n    dir: loop\n    run: { cmd: x }\n', dir), [
      'airlock.yaml:3:10: services.api.dir: "loop" is a symbolic link that leads to itself (a loop): point it at a directory',
    ]);
  });

  it('refuses an airlock.yaml over 1 MiB with its size, before reading it', () => {
    const dir = project({ 'airlock.yaml': `# ${'x'.repeat(2 * 1024 * 1024)}\nservices: {}\n` });
    assert.throws(() => loadConfigFile(join(dir, 'airlock.yaml')), /airlock\.yaml is 2\.0 MiB; airlock reads config files of up to 1 MiB/);
  });
});

describe('proxy.workers', () => {
  const plan = (proxy: Partial<ServicePlan['proxy']>) => ({ proxy: { holdMs: 30_000, liveReload: false, workers: 'auto', ...proxy } }) as ServicePlan;

  it('auto is half the cores (at most 4) under run and agent, 1 under dev and with live reload; a number is taken as given', () => {
    assert.equal(proxyWorkers(plan({}), { dev: false, cores: 16 }), 4);
    assert.equal(proxyWorkers(plan({}), { dev: false, cores: 4 }), 2);
    assert.equal(proxyWorkers(plan({}), { dev: false, cores: 2 }), 1);
    assert.equal(proxyWorkers(plan({}), { dev: false, cores: 1 }), 1);
    assert.equal(proxyWorkers(plan({}), { dev: true, cores: 8 }), 1);
    assert.equal(proxyWorkers(plan({ workers: 6 }), { dev: true, cores: 2 }), 6);
    assert.equal(proxyWorkers(plan({ workers: 'auto', liveReload: true }), { dev: false, cores: 8 }), 1);
  });

  it('refuses more than one with live reload (pages are rewritten in airlock\'s own process), and a count out of range', () => {
    assert.deepEqual(problems('services:\n  web:\n    run: { cmd: node app.js }\n    listen: 127.0.0.1:8080\n    proxy: { liveReload: true, workers: 2 }\n'), [
      "airlock.yaml:5:41: services.web.proxy.workers: live reload rewrites HTML in airlock's own process: it needs proxy.workers: 1 (or auto), not 2",
    ]);
    assert.match(problems('services:\n  web:\n    run: { cmd: node app.js }\n    listen: 127.0.0.1:8080\n    proxy: { workers: 0 }\n').join('\n'), /services\.web\.proxy\.workers/);
  });

  it('refuses more than one where there is no proxy to spread (fd, restart) instead of ignoring it', () => {
    assert.deepEqual(problems('services:\n  api:\n    run: { cmd: ./server }\n    listen: 127.0.0.1:8080\n    handoff: fd\n    proxy: { workers: 3 }\n'), [
      "airlock.yaml:6:23: services.api.proxy.workers: proxy.workers spreads airlock's proxy (handoff: proxy or tcp-proxy) over processes; handoff: fd has no proxy: remove proxy.workers",
    ]);
    assert.deepEqual(problems('services:\n  grpc:\n    run: { cmd: ./server }\n    listen: 127.0.0.1:50051\n    handoff: tcp-proxy\n    proxy: { workers: 3, hold: 5s }\n'), []);
  });
});
