import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { importAir } from '../src/config/air-import.ts';

describe('importing .air.toml', () => {
  it("maps air's own default (cmd with ./tmp/main, bin without ./) to {artifact} in build and run", () => {
    const { service } = importAir(`[build]\n  cmd = "go build -o ./tmp/main ."\n  bin = "tmp/main"\n`);
    assert.deepEqual(service.build, { cmd: 'go build -o {artifact} .' });
    assert.deepEqual(service.run, { cmd: '{artifact}' });
  });

  it('maps bin with ./ against a cmd without it, and inside full_bin', () => {
    const { service } = importAir(`[build]\n  cmd = "go build -o tmp/main ."\n  bin = "./tmp/main"\n  full_bin = "APP_ENV=dev ./tmp/main"\n`);
    assert.deepEqual(service.build, { cmd: 'go build -o {artifact} .' });
    assert.deepEqual(service.run, { cmd: 'APP_ENV=dev {artifact}' });
  });

  it('does not take a longer path that only starts like bin for it', () => {
    const { service } = importAir(`[build]\n  cmd = "cp tmp/main tmp/main.bak && go build -o tmp/main ."\n  bin = "tmp/main"\n`);
    assert.deepEqual(service.build, { cmd: 'cp {artifact} tmp/main.bak && go build -o {artifact} .' });
  });

  it("converts an integer kill_delay as air does: under a millisecond it means milliseconds, else nanoseconds", () => {
    assert.deepEqual(importAir(`[build]\n  kill_delay = 500\n`).service.stop, { signal: 'SIGTERM', timeout: '500ms' });
    assert.deepEqual(importAir(`[build]\n  kill_delay = 2000000000\n`).service.stop, { signal: 'SIGTERM', timeout: '2s' });
    assert.deepEqual(importAir(`[build]\n  kill_delay = "1500ms"\n`).service.stop, { signal: 'SIGTERM', timeout: '1500ms' });
  });

  it('names the key a typo meant, since the intended one was not set either', () => {
    const { unmapped } = importAir(`[build]\n  incldue_ext = ["go"]\n`);
    assert.deepEqual(unmapped, ['build.incldue_ext: not an air key; did you mean build.include_ext? (fix it in .air.toml and convert again)']);
  });
});
