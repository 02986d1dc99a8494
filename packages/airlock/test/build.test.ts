import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { findLocations } from '../src/build/locations.ts';
import { runBuild } from '../src/build/runner.ts';
import { isAlive } from '../src/supervise/proc.ts';

const env = { PATH: process.env.PATH ?? '' };

describe('build runner', () => {
  it('succeeds, and fails with the compiler locations', async () => {
    const signal = new AbortController().signal;
    const ok = await runBuild({ cmd: 'true', cwd: process.cwd(), env, timeoutMs: 10_000, signal, onLine: () => undefined });
    assert.equal(ok.kind, 'ok');
    const failed = await runBuild({
      cmd: `sh -c 'echo "./main.go:12:5: undefined: x" >&2; exit 1'`,
      cwd: process.cwd(),
      env,
      timeoutMs: 10_000,
      signal,
      onLine: () => undefined,
    });
    assert.equal(failed.kind, 'failed');
    assert.deepEqual(failed.kind === 'failed' && failed.locations, ['./main.go:12:5']);
  });

  it('cancels the whole process group when aborted', async () => {
    const controller = new AbortController();
    let worker = 0;
    const outcome = runBuild({
      cmd: 'sleep 300 & echo worker=$!; wait',
      cwd: process.cwd(),
      env,
      timeoutMs: 60_000,
      signal: controller.signal,
      onLine: (_stream, line) => {
        if (line.startsWith('worker=')) {
          worker = Number(line.slice(7));
          controller.abort();
        }
      },
    });
    assert.equal((await outcome).kind, 'cancelled');
    assert.ok(worker > 0 && !isAlive(worker), 'the build step started by the build is gone too');
  });

  it('kills a build that runs past its timeout', async () => {
    const outcome = await runBuild({ cmd: 'sleep 300', cwd: process.cwd(), env, timeoutMs: 100, signal: new AbortController().signal, onLine: () => undefined });
    assert.equal(outcome.kind, 'timeout');
  });
});

describe('compiler locations', () => {
  it('reads go, gcc and tsc styles, once each', () => {
    assert.deepEqual(
      findLocations([
        '# example.com/app',
        './main.go:19:7: syntax error: unexpected is',
        './main.go:19:7: again',
        'src/a.ts(3,7): error TS2322',
        'lib/x.c:4:2: error: expected',
        'no location here: 12:5',
      ]),
      ['./main.go:19:7', 'src/a.ts:3:7', 'lib/x.c:4:2'],
    );
  });
});
