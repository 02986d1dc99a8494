import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parse } from 'yaml';
import { CLI, removeProject, tempProject } from './helpers.ts';

function airlock(args: readonly string[], cwd: string) {
  const result = spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' }, timeout: 30_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('config errors, validate, schema', () => {
  const dirs: string[] = [];
  after(() => dirs.forEach(removeProject));
  const project = (example?: string) => {
    const dir = tempProject(example);
    dirs.push(dir);
    return dir;
  };

  it('takes a mistyped command for what it is: names the command meant, not a missing service', () => {
    const dir = project('go-hello');
    const { code, stderr } = airlock(['devv'], dir);
    assert.equal(code, 1);
    assert.match(stderr, /^airlock: unknown command or service "devv"; did you mean `airlock dev`\? \(no service named "devv"; defined: hello\)$/m);
    assert.match(stderr, /AIRLOCK_ERR_USAGE_COMMAND: /);
    assert.match(airlock(['dev', '--help'], dir).stdout, /--handoff <mode>\s+how a new version takes over:\s+fd\s+\|\s+proxy\s+\|\s+tcp-proxy\s+\|\s+restart/);
  });

  it("shows the go command's own error when go list fails (a newer go directive), in validate and dev alike", () => {
    const dir = project('go-hello');
    writeFileSync(join(dir, 'go.mod'), readFileSync(join(dir, 'go.mod'), 'utf8').replace(/^go .*$/m, 'go 1.23.0'));
    for (const command of [['validate'], ['dev']]) {
      const { code, stderr } = airlock(command, dir);
      assert.equal(code, 1, stderr);
      assert.match(stderr, /invalid go version '1\.23\.0'/, `${command[0]}: ${stderr}`);
      assert.match(stderr, /AIRLOCK_ERR_PRESET_GO: /);
      assert.doesNotMatch(stderr, /no Go main package|Command failed/);
    }
  });

  it('prints the bucket of a rollout key with no airlock running, alone on its line', () => {
    const dir = project();
    const unleash = airlock(['rollout', 'bucket', '123', '--group', 'gr1', '--bucketing', 'unleash'], dir);
    assert.equal(unleash.code, 0, unleash.stderr);
    assert.equal(unleash.stdout, '73\n');
    const own = airlock(['rollout', 'bucket', 'müller', '--group', 'api'], dir);
    assert.match(own.stdout, /^\d{1,5}\n$/);
    assert.ok(Number(own.stdout) >= 1 && Number(own.stdout) <= 10_000);
    const missing = airlock(['rollout', 'bucket', 'x'], dir);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /--group is needed: a key's bucket depends on its rollout group/);
  });

  it('fails on an unknown key with its line and the key it meant', () => {
    const dir = project('go-hello');
    writeFileSync(join(dir, 'airlock.yaml'), 'services:\n  hello:\n    go: { main: . }\n    watch:\n      debounse: 20ms\n');
    for (const command of [['validate'], ['dev']]) {
      const { code, stderr } = airlock(command, dir);
      assert.equal(code, 1);
      assert.match(stderr, /airlock\.yaml:5:7: unknown key "debounse" in services\.hello\.watch; did you mean "debounce"\?/);
      assert.match(stderr, /AIRLOCK_ERR_CONFIG_INVALID: /);
    }
  });

  it('reports every problem at once, each with file:line:column', () => {
    const dir = project();
    writeFileSync(
      join(dir, 'airlock.yaml'),
      [
        'services:',
        '  api:',
        '    run: { cmd: ./app, envFile: .env.missing }',
        '    watch: { debounce: banana }',
        '    stop: { signal: SIGTREM, timeout: 5 }',
        '    listen: 70000',
        '    handof: restart',
      ].join('\n'),
    );
    const { code, stderr } = airlock(['validate'], dir);
    assert.equal(code, 1);
    assert.match(stderr, /airlock\.yaml has 6 problems/);
    assert.match(stderr, /airlock\.yaml:3:33: services\.api\.run\.envFile: file "\.env\.missing" does not exist/);
    assert.match(stderr, /airlock\.yaml:4:24: services\.api\.watch\.debounce: expected a duration with units such as "500ms", "2s" or "5m", got "banana"/);
    assert.match(stderr, /airlock\.yaml:5:21: .*got string "SIGTREM"; did you mean "SIGTERM"\?/);
    assert.match(stderr, /airlock\.yaml:5:39: services\.api\.stop\.timeout: expected a duration/);
    assert.match(stderr, /airlock\.yaml:6:13: services\.api\.listen: expected "host:port"/);
    assert.match(stderr, /airlock\.yaml:7:5: unknown key "handof" .*did you mean "handoff"\?/);
  });

  it('checks app config files against their schemas too', () => {
    const dir = project();
    writeFileSync(join(dir, 'config.yaml'), 'color: blue\ngreeting: 5\n');
    writeFileSync(join(dir, 'schema.json'), JSON.stringify({ type: 'object', properties: { greeting: { type: 'string' } } }));
    writeFileSync(join(dir, 'airlock.yaml'), 'services:\n  app:\n    run: { cmd: ./app }\n    config: { files: [config.yaml], schema: schema.json }\n');
    let result = airlock(['validate'], dir);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /config\.yaml:2:11: greeting must be string \(service app\)/);
    assert.match(result.stderr, /AIRLOCK_ERR_CONFIG_REJECTED/);
    writeFileSync(join(dir, 'config.yaml'), 'greeting: hi\n');
    result = airlock(['validate'], dir);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /app: config\.yaml valid against schema\.json/);
  });

  it('reports YAML syntax errors with their position', () => {
    const dir = project();
    writeFileSync(join(dir, 'airlock.yaml'), 'services:\n  api:\n    run: { cmd: "x"\n');
    const { code, stderr } = airlock(['validate'], dir);
    assert.equal(code, 1);
    assert.match(stderr, /airlock\.yaml:\d+:\d+: /);
    assert.match(stderr, /AIRLOCK_ERR_CONFIG_PARSE/);
  });

  it('fails on a --config file that does not exist', () => {
    const dir = project();
    const { code, stderr } = airlock(['--config', 'nope.yaml', 'validate'], dir);
    assert.equal(code, 1);
    assert.match(stderr, /config file "nope\.yaml" does not exist/);
  });

  it('names the flag when a flag value is wrong', () => {
    const dir = project();
    const { code, stderr } = airlock(['dev', '--run', 'true', '--debounce', 'banana'], dir);
    assert.equal(code, 1);
    assert.match(stderr, /--debounce: services\.[a-z0-9-]+\.watch\.debounce: expected a duration with units/);
  });

  it('exits 1 at once when the listen address is taken, and leaves nothing running', async () => {
    const dir = project();
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', () => resolve()));
    const port = (holder.address() as { port: number }).port;
    try {
      const { code, stderr } = airlock(['dev', '--run', 'sleep 30', '--listen', String(port), '--handoff', 'fd'], dir);
      assert.equal(code, 1);
      assert.match(stderr, new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}: EADDRINUSE`));
      assert.match(stderr, /AIRLOCK_ERR_LISTEN_FAILED/);
    } finally {
      holder.close();
    }
  });

  it('validates a good file and prints the JSON Schema', () => {
    const dir = project('go-hello');
    const ok = airlock(['validate'], dir);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /airlock\.yaml: ok \(1 service: hello\)/);
    const schema = airlock(['schema'], dir);
    assert.equal(schema.code, 0);
    const json = JSON.parse(schema.stdout) as { properties: { services: unknown } };
    assert.ok(json.properties.services);
  });
});

describe('airlock init', () => {
  const dirs: string[] = [];
  after(() => dirs.forEach(removeProject));

  it('writes a commented config for a Go project that validates', () => {
    const dir = tempProject('go-hello');
    dirs.push(dir);
    writeFileSync(join(dir, 'airlock.yaml'), '');
    assert.equal(airlock(['init'], dir).code, 1, 'refuses to overwrite');
    const { code, stdout } = airlock(['init', '--force'], dir);
    assert.equal(code, 0, stdout);
    const text = readFileSync(join(dir, 'airlock.yaml'), 'utf8');
    assert.match(text, /# Go preset/);
    assert.deepEqual(parse(text).services['go-hello'].go, { main: '.' });
    assert.equal(airlock(['validate'], dir).code, 0);
    // A Go project has no node_modules: the schema editors read is one that exists.
    assert.match(text, /^# yaml-language-server: \$schema=\.\/\.airlock\/schema\.json$/m);
    assert.ok(JSON.parse(readFileSync(join(dir, '.airlock', 'schema.json'), 'utf8')).properties.services);
  });

  it('converts a real .air.toml and lists what it could not map', () => {
    const dir = tempProject('go-hello');
    dirs.push(dir);
    writeFileSync(
      join(dir, '.air.toml'),
      `root = "."
tmp_dir = "tmp"

[build]
  cmd = "go build -o ./tmp/main ."
  bin = "./tmp/main"
  args_bin = ["--verbose"]
  include_ext = ["go", "tpl", "html"]
  exclude_dir = ["assets", "tmp", "vendor"]
  exclude_regex = ["_test.go", "^gen_.*\\\\.go$"]
  exclude_unchanged = true
  delay = 0
  kill_delay = "2s"
  send_interrupt = true
  pre_cmd = ["echo pre"]
  post_cmd = ["echo post"]
  poll = true
  poll_interval = 250

[color]
  main = "magenta"

[misc]
  clean_on_exit = true
`,
    );
    const { code, stdout } = airlock(['init', '--from', '.air.toml', '--force'], dir);
    assert.equal(code, 0, stdout);
    assert.match(stdout, /build\.post_cmd: runs when air exits/);
    assert.ok(stdout.includes('exclude_regex "^gen_.*\\.go$": not a plain literal'), stdout);
    assert.match(stdout, /color\.main: output styling/);
    assert.match(stdout, /misc\.clean_on_exit: always on in airlock/);
    assert.doesNotMatch(stdout, /build\.poll/, 'poll and poll_interval have a home: watch.poll');
    const service = parse(readFileSync(join(dir, 'airlock.yaml'), 'utf8')).services['go-hello'];
    assert.deepEqual(service.build, { cmd: 'echo pre && go build -o {artifact} .' });
    assert.deepEqual(service.run, { cmd: '{artifact} --verbose' });
    assert.deepEqual(service.watch.include, ['**/*.{go,tpl,html}']);
    assert.deepEqual(service.watch.exclude, ['assets/**', 'tmp/**', 'vendor/**', '**/*_test.go*']);
    assert.equal(service.watch.debounce, '0');
    assert.equal(service.watch.poll, '250ms');
    assert.deepEqual(service.stop, { signal: 'SIGINT', timeout: '2s' });
    assert.equal(airlock(['validate'], dir).code, 0);
    assert.ok(existsSync(join(dir, 'airlock.yaml')));
  });
});
