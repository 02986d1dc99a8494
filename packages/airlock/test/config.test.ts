import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parseDuration } from '../src/config/duration.ts';
import { parseConfigText } from '../src/config/load.ts';
import { closest } from '../src/config/suggest.ts';
import { AirlockError } from '../src/errors.ts';

const dir = mkdtempSync(join(tmpdir(), 'airlock-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function problems(text: string): string[] {
  try {
    parseConfigText(text, join(dir, 'airlock.yaml'));
  } catch (error) {
    assert.ok(error instanceof AirlockError);
    return [...error.details];
  }
  return [];
}

describe('durations', () => {
  it('accepts units and a bare zero, refuses bare numbers and words', () => {
    assert.equal(parseDuration('50ms'), 50);
    assert.equal(parseDuration('1m30s'), 90_000);
    assert.equal(parseDuration('1.5s'), 1_500);
    assert.equal(parseDuration(0), 0);
    assert.equal(parseDuration('0'), 0);
    assert.equal(parseDuration(500), undefined);
    assert.equal(parseDuration('banana'), undefined);
    assert.equal(parseDuration('5 s'), undefined);
  });
});

describe('suggestions', () => {
  it('names the closest key for a typo and nothing for a stranger', () => {
    assert.equal(closest('debounse', ['include', 'exclude', 'debounce']), 'debounce');
    assert.equal(closest('handof', ['handoff', 'listen']), 'handoff');
    assert.equal(closest('zzzzzz', ['handoff', 'listen']), undefined);
  });
});

describe('the airlock.yaml schema', () => {
  it('fills defaults and freezes the result', () => {
    const { config } = parseConfigText('services:\n  api:\n    run: { cmd: ./app }\n', join(dir, 'airlock.yaml'));
    const api = config.services.api;
    assert.ok(api);
    assert.equal(api.watch.debounce, 50);
    assert.equal(api.stop.timeout, 10_000);
    assert.equal(api.stop.signal, 'SIGTERM');
    assert.equal(api.handoff, undefined, 'resolved later: proxy with listen, restart without');
    assert.equal(api.health.startTimeout, 30_000);
    assert.ok(Object.isFrozen(api) && Object.isFrozen(api.watch));
  });

  it('honours a debounce of 0', () => {
    const { config } = parseConfigText('services:\n  api:\n    run: { cmd: x }\n    watch: { debounce: 0 }\n', join(dir, 'a.yaml'));
    assert.equal(config.services.api?.watch.debounce, 0);
  });

  it('parses listen forms, loopback by default', () => {
    const listen = (value: string) =>
      parseConfigText(`services:\n  api:\n    run: { cmd: x }\n    listen: ${value}\n`, join(dir, 'a.yaml')).config.services.api?.listen;
    assert.deepEqual(listen('8080'), { host: '127.0.0.1', port: 8080 });
    assert.deepEqual(listen('":8080"'), { host: '127.0.0.1', port: 8080 });
    assert.deepEqual(listen('0.0.0.0:80'), { host: '0.0.0.0', port: 80 });
    assert.deepEqual(listen('"[::1]:9000"'), { host: '::1', port: 9000 });
  });

  it('locates unknown keys at the key, with the likely intended name', () => {
    assert.deepEqual(problems('services:\n  api:\n    run: { cmd: x }\n    stop:\n      timout: 5s\n'), [
      'airlock.yaml:5:7: unknown key "timout" in services.api.stop; did you mean "timeout"?',
    ]);
  });

  it('points a key one level too high at where it belongs (env beside run)', () => {
    assert.deepEqual(problems('services:\n  api:\n    run: { cmd: x }\n    env: { A: b }\n'), [
      'airlock.yaml:4:5: unknown key "env" in services.api; did you mean "run.env"? (env belongs under run)',
    ]);
  });

  it('reports wrong types and missing required values at their place', () => {
    assert.deepEqual(problems('services:\n  api:\n    run: { cmd: 5 }\n    watch: { include: nope }\n'), [
      'airlock.yaml:3:17: services.api.run.cmd: expected string, got number 5',
      'airlock.yaml:4:23: services.api.watch.include: expected array, got string "nope"',
    ]);
    assert.deepEqual(problems('services:\n  api:\n    watch: { debounce: 5ms }\n'), [
      'airlock.yaml:3:5: services.api.run: a service needs run.cmd, or a preset (go: { main: ./cmd/x } or node: {})',
    ]);
  });

  it('refuses an empty service list and bad service names', () => {
    assert.match(problems('services: {}\n')[0] ?? '', /airlock\.yaml:1:11: services: define at least one service/);
    assert.match(problems('services:\n  My_Api:\n    run: { cmd: x }\n')[0] ?? '', /airlock\.yaml:2:3: invalid name "My_Api"/);
  });

  it('checks dependsOn names and cycles', () => {
    assert.deepEqual(problems('services:\n  a:\n    run: { cmd: x }\n    dependsOn: [b, nope]\n  b:\n    run: { cmd: x }\n    dependsOn: [a]\n'), [
      'airlock.yaml:4:16: services.a.dependsOn: dependency cycle through "a"',
      'airlock.yaml:4:20: services.a.dependsOn.1: no service named "nope"; defined: a, b',
      'airlock.yaml:7:16: services.b.dependsOn: dependency cycle through "b"',
    ]);
  });

  it('accepts restartWith only for services in dependsOn', () => {
    assert.deepEqual(problems('services:\n  a:\n    run: { cmd: x }\n  b:\n    run: { cmd: x }\n    dependsOn: [a]\n    restartWith: [a]\n'), []);
    assert.deepEqual(problems('services:\n  a:\n    run: { cmd: x }\n  b:\n    run: { cmd: x }\n    restartWith: [a]\n'), [
      'airlock.yaml:6:19: services.b.restartWith.0: "a" must also be in dependsOn of b',
    ]);
  });

  it('reports files that do not exist', () => {
    writeFileSync(join(dir, '.env'), 'A=1\n');
    assert.deepEqual(problems('services:\n  api:\n    run: { cmd: x, envFile: [.env, .env.local] }\n    dir: .\n'), [
      `airlock.yaml:3:36: services.api.run.envFile: file ".env.local" does not exist (relative to ${dir})`,
    ]);
    assert.deepEqual(problems('services:\n  api:\n    go: { main: ./cmd/nope }\n'), [
      'airlock.yaml:3:17: services.api.go.main: package directory "./cmd/nope" does not exist',
    ]);
    assert.deepEqual(problems('services:\n  api:\n    go: { main: . }\n    plugins: { go: [., ./plugins/nope] }\n'), [
      `airlock.yaml:4:24: services.api.plugins.go: plugin package directory "./plugins/nope" does not exist (relative to ${dir})`,
    ]);
  });
});
