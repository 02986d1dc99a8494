import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { importNodemon } from '../src/config/nodemon-import.ts';

describe('importing nodemon.json (and package.json nodemonConfig)', () => {
  it('maps watch, ext, ignore, exec, delay, signal and env', () => {
    const { service, unmapped } = importNodemon(
      JSON.stringify({
        watch: ['src', 'config/app.json'],
        ext: 'ts,json',
        ignore: ['src/**/*.test.ts', 'dist/'],
        exec: 'node --import tsx src/server.ts',
        delay: 2500,
        signal: 'SIGHUP',
        env: { NODE_ENV: 'development', PORT: 3000 },
      }),
    );
    assert.deepEqual(service, {
      run: { cmd: 'node --import tsx src/server.ts', env: { NODE_ENV: 'development', PORT: '3000' } },
      watch: { include: ['src/**/*.{ts,json}', 'config/app.json'], exclude: ['src/**/*.test.ts', 'dist/**'], debounce: '2500ms' },
      stop: { signal: 'SIGHUP' },
    });
    assert.deepEqual(unmapped, []);
  });

  it("runs the script with node when there is no exec, with nodemon's default extensions", () => {
    const { service } = importNodemon(JSON.stringify({ script: 'server.js', args: ['--verbose'], nodeArgs: ['--inspect'], delay: '1.5' }));
    assert.deepEqual(service, {
      run: { cmd: 'node --inspect server.js --verbose' },
      watch: { include: ['**/*.{js,mjs,cjs,json}'], exclude: [], debounce: '1500ms' },
    });
  });

  it('maps legacyWatch (polling) to watch.poll, at pollingInterval or nodemon\'s 100 ms', () => {
    assert.equal((importNodemon(JSON.stringify({ exec: 'node a.js', legacyWatch: true })).service.watch as { poll?: string }).poll, '100ms');
    assert.equal((importNodemon(JSON.stringify({ exec: 'node a.js', legacyWatch: true, pollingInterval: 1000 })).service.watch as { poll?: string }).poll, '1s');
    assert.equal((importNodemon(JSON.stringify({ exec: 'node a.js', pollingInterval: 1000 })).service.watch as { poll?: string }).poll, undefined, 'nodemon ignores pollingInterval without legacyWatch');
  });

  it('lists what does not map, and names the key a typo meant', () => {
    const { unmapped } = importNodemon(JSON.stringify({ exec: 'node a.js', legacyWatch: true, verbose: true, restartable: 'rs', events: { restart: 'echo hi' }, wtach: ['src'] }));
    assert.deepEqual(unmapped, [
      'verbose: output styling; airlock has --no-color, --quiet and --log-format',
      'restartable: airlock restarts on SIGHUP or `airlock restart`, not on typed input',
      'events: nodemon event hooks; airlock reports its events with --log-format json and on the control socket (/events)',
      'wtach: not a nodemon key; did you mean watch? (fix it in nodemon.json and convert again)',
    ]);
  });

  it('reads nodemonConfig from package.json, and says so when there is none', () => {
    const { service } = importNodemon(JSON.stringify({ name: 'app', nodemonConfig: { exec: 'node app.js', ext: 'js' } }), 'package.json');
    assert.deepEqual(service.run, { cmd: 'node app.js' });
    assert.throws(() => importNodemon(JSON.stringify({ name: 'app' }), 'package.json'), /package\.json has no "nodemonConfig"/);
  });

  it('reports bad JSON with the file and line', () => {
    assert.throws(() => importNodemon('{\n  "watch": [\n}', 'nodemon.json'), (error: Error & { code?: string }) => /^nodemon\.json:3:1: /.test(error.message) && error.code === 'NODEMON_PARSE');
  });
});
