import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { AirlockRun, CLI, ROOT, cleanupAfter, freePort, removeProject, tempProject } from './helpers.ts';

/**
 * The first ten minutes on code nobody here wrote: projects laid out as people lay them
 * out, apps written as tutorials write them, configs brought from nodemon and air.
 */
function airlock(args: readonly string[], cwd: string) {
  const result = spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' }, timeout: 60_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

const GO_MOD = 'module example.com/tutorial\n\ngo 1.19\n';

describe('the first ten minutes', () => {
  const cleanup = cleanupAfter();
  const project = () => {
    const dir = tempProject();
    cleanup(() => removeProject(dir));
    return dir;
  };

  it('says "make it listen on $PORT" to the tutorial Go app that ignores its bind error (exits 0 at once)', async () => {
    const dir = project();
    const port = await freePort();
    writeFileSync(join(dir, 'go.mod'), GO_MOD);
    writeFileSync(
      join(dir, 'main.go'),
      `package main\n\nimport (\n\t"fmt"\n\t"net/http"\n)\n\nfunc main() {\n\thttp.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "hi") })\n\taddr := "127.0.0.1:${port}"\n\thttp.ListenAndServe(addr, nil)\n}\n`,
    );
    writeFileSync(join(dir, 'airlock.yaml'), `services:\n  tutorial:\n    go: { main: . }\n    listen: 127.0.0.1:${port}\n    handoff: proxy\n`);
    const run = new AirlockRun(['dev', '--log-format', 'json'], dir);
    cleanup(() => run.kill());
    const failed = await run.waitForEvent('reload.failed', { generation: 1 }, 120_000);
    assert.equal(failed.code, 'AIRLOCK_ERR_PORT_CONFLICT', String(failed.message));
    assert.match(String(failed.message), new RegExp(`main\\.go:11 binds 127\\.0\\.0\\.1:${port}, which airlock holds for handoff: proxy.*make it listen on \\$PORT`));
  });

  it('names the place in the project a Node app crashed at start, and retries it with backoff while nothing serves', async () => {
    const dir = project();
    const port = await freePort();
    writeFileSync(join(dir, 'server.js'), "const http = require('node:http');\n\nthrow new Error('boom at start');\n");
    const run = new AirlockRun(['dev', '--run', 'node server.js', '--listen', `127.0.0.1:${port}`, '--log-format', 'json'], dir);
    cleanup(() => run.kill());
    const failed = await run.waitForEvent('reload.failed', { generation: 1 }, 60_000);
    assert.match(String(failed.message), /exited with code 1 before it was ready at server\.js:3:7/);
    await run.waitForEvent('process.restarting', {}, 30_000, 0);
    await run.waitForEvent('reload.failed', { generation: 2 }, 30_000, 0);
  });

  it('finds a Go main package directly in cmd/, for init and for dev without a config', async () => {
    const dir = project();
    writeFileSync(join(dir, 'go.mod'), GO_MOD);
    mkdirSync(join(dir, 'cmd'));
    writeFileSync(join(dir, 'cmd', 'main.go'), 'package main\n\nimport "fmt"\n\nfunc main() { fmt.Println("ran from cmd") }\n');
    const init = airlock(['init'], dir);
    assert.equal(init.code, 0, init.stderr);
    assert.deepEqual(parse(readFileSync(join(dir, 'airlock.yaml'), 'utf8')).services.tutorial.go, { main: './cmd' });
    const bare = project();
    writeFileSync(join(bare, 'go.mod'), GO_MOD);
    mkdirSync(join(bare, 'cmd'));
    writeFileSync(join(bare, 'cmd', 'main.go'), 'package main\n\nimport "fmt"\n\nfunc main() { fmt.Println("ran from cmd") }\n');
    const run = new AirlockRun(['dev', '--log-format', 'json'], bare);
    cleanup(() => run.kill());
    await run.waitForLine(/"line":"ran from cmd"/, 120_000, 0);
  });

  it('imports nodemon.json, refuses a file it cannot import by name, and notes send_interrupt only when .air.toml sets it', () => {
    const dir = project();
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'shop', scripts: { start: 'node server.js' } }));
    writeFileSync(join(dir, 'server.js'), 'require("http").createServer((q, s) => s.end("ok")).listen(process.env.PORT || 3000)\n');
    writeFileSync(join(dir, 'nodemon.json'), JSON.stringify({ watch: ['.'], ext: 'js,json', ignore: ['tmp/'], exec: 'node server.js', delay: 300, legacyWatch: true }));
    const converted = airlock(['init', '--from', 'nodemon.json'], dir);
    assert.equal(converted.code, 0, converted.stderr);
    assert.doesNotMatch(converted.stdout, /legacyWatch/, 'legacyWatch has a home: watch.poll');
    const service = parse(readFileSync(join(dir, 'airlock.yaml'), 'utf8')).services.shop;
    assert.deepEqual(service.run, { cmd: 'node server.js' });
    assert.deepEqual(service.watch, { include: ['**/*.{js,json}'], exclude: ['tmp/**'], debounce: '300ms', poll: '100ms' });
    assert.equal(service.listen, '127.0.0.1:3000', 'the app reads $PORT: zero downtime, as a plain init gives');
    assert.equal(service.handoff, 'proxy');
    assert.equal(airlock(['validate'], dir).code, 0);

    writeFileSync(join(dir, 'tsconfig.json'), '{}');
    const unknown = airlock(['init', '--from', 'tsconfig.json', '--force'], dir);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /cannot import "tsconfig\.json": airlock imports air \(\.air\.toml\) and nodemon/);
    assert.match(unknown.stderr, /AIRLOCK_ERR_INIT_FROM/);

    writeFileSync(join(dir, '.air.toml'), '[build]\n  cmd = "go build -o ./tmp/main ."\n  bin = "tmp/main"\n');
    const air = airlock(['init', '--from', '.air.toml', '--force'], dir);
    assert.equal(air.code, 0, air.stderr);
    assert.doesNotMatch(air.stdout + readFileSync(join(dir, 'airlock.yaml'), 'utf8'), /send_interrupt/);
  });

  it('tells a package.json without a start script how to run it anyway', () => {
    const dir = project();
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'api', main: 'app.js' }));
    for (const command of [['init'], ['dev']]) {
      const { code, stderr } = airlock(command, dir);
      assert.equal(code, 1, stderr);
      assert.match(stderr, /package\.json has no "start" script: add one \("start": "node app\.js"\), or run `airlock dev --run "node app\.js"`/, command[0]);
    }
  });

  it('goes on numbering generations after an edit of the address restarts the service (g2 is followed by g3, not g1)', async () => {
    const dir = project();
    const [a, b] = [await freePort(), await freePort()];
    const yaml = (port: number) => `services:\n  app:\n    run: { cmd: "node -e \\"require('http').createServer((q, s) => s.end('ok')).listen(process.env.PORT)\\"" }\n    listen: 127.0.0.1:${port}\n`;
    writeFileSync(join(dir, 'airlock.yaml'), yaml(a));
    const run = new AirlockRun(['dev', '--log-format', 'json'], dir);
    cleanup(() => run.kill());
    await run.waitForEvent('reload.ready', { generation: 1 }, 60_000);
    writeFileSync(join(dir, 'airlock.yaml'), yaml(b));
    const applied = await run.waitForEvent('airlock-yaml.applied', {}, 30_000);
    assert.deepEqual(applied.changed, [{ service: 'app', change: 'replace' }]);
    const ready = await run.waitForEvent('reload.ready', {}, 60_000, run.events.indexOf(applied));
    assert.equal(ready.generation, 2);
  });
});

describe('airlock on PATH from a clone', () => {
  it('is the package @airlock/cli (not the unrelated "airlock" on the registry), runs through npx in the clone, and its bin is executable after the build', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'packages', 'airlock', 'package.json'), 'utf8')) as { name: string; version: string; bin: Record<string, string> };
    assert.equal(pkg.name, '@airlock/cli');
    // A file that exists before the build: npm ci links no bin whose target is missing.
    assert.deepEqual(pkg.bin, { airlock: 'bin/airlock.js' });
    const shim = join(ROOT, 'packages', 'airlock', 'bin', 'airlock.js');
    assert.ok((statSync(shim).mode & 0o111) !== 0, 'bin/airlock.js is executable (npm link, node_modules/.bin)');
    assert.ok((statSync(CLI).mode & 0o111) !== 0, 'dist/cli/main.js is executable');
    const npx = spawnSync('npx', ['--no-install', 'airlock', '--version'], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
    assert.equal(npx.status, 0, npx.stderr);
    assert.equal(npx.stdout.trim(), pkg.version);
  });
});
