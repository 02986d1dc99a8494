import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, closeSync, cpSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { AirlockRun, CLI, ROOT, cleanupAfter, control, freePort, get, isAlive, removeProject, tempProject, type JsonEvent } from './helpers.ts';

const PLAIN_NODE = join(ROOT, 'test', 'fixtures', 'plain-node.mjs');

describe('airlock stays up whatever the project, the files or a client do', () => {
  const cleanup = cleanupAfter();

  function project(yaml: string): string {
    const dir = tempProject();
    cleanup(() => removeProject(dir));
    writeFileSync(join(dir, 'airlock.yaml'), yaml);
    return dir;
  }

  function start(dir: string, args: string[] = []): AirlockRun {
    const run = new AirlockRun(['dev', '--log-format', 'json', ...args], dir);
    cleanup(() => run.kill());
    return run;
  }

  it('gives one change for a burst of 5,000 new files in 50 directories', async () => {
    const dir = project(`services:\n  app:\n    run: { cmd: "node -e 'setInterval(() => {}, 1e9)'" }\n`);
    const run = start(dir);
    await run.waitForEvent('reload.ready', { generation: 1 });
    const since = run.events.length;
    for (let d = 0; d < 50; d++) {
      mkdirSync(join(dir, `d${d}`));
      for (let f = 0; f < 100; f++) writeFileSync(join(dir, `d${d}`, `f${f}.txt`), `x${f}`);
    }
    await run.waitForEvent('reload.ready', { generation: 2 }, 60_000, since);
    // A file written after the burst: its change comes alone, and nothing of the burst is left.
    writeFileSync(join(dir, 'sentinel.txt'), 'after');
    await run.waitForEvent('change.detected', {}, 30_000, run.events.findIndex((e, i) => i >= since && e.type === 'reload.ready') + 1);
    const detected = run.events.slice(since).filter((e) => e.type === 'change.detected');
    assert.equal(detected.length, 2, detected.map((e) => (e.paths as string[]).length).join(', '));
    assert.equal((detected[0]?.paths as string[]).length, 5_000);
    assert.deepEqual(detected[1]?.paths, ['sentinel.txt']);
  });

  it('watches a service directory again after it was removed and made anew, and says so', async () => {
    const dir = project(`services:\n  app:\n    dir: svc\n    run: { cmd: "node app.mjs" }\n    watch: { include: ["**/*.mjs"] }\n`);
    mkdirSync(join(dir, 'svc'));
    writeFileSync(join(dir, 'svc', 'app.mjs'), 'setInterval(() => {}, 1e9);\n');
    const run = start(dir);
    await run.waitForEvent('reload.ready', { generation: 1 });
    rmSync(join(dir, 'svc'), { recursive: true });
    const warned = await run.waitForEvent('error', { code: 'AIRLOCK_ERR_WATCH_FAILED' });
    assert.equal(warned.message, `the watched directory ${join(dir, 'svc')} was removed; airlock watches it again as soon as it is back`);
    const failed = await run.waitForEvent('reload.failed');
    assert.match(failed.message as string, new RegExp(`cannot start: the working directory ${join(dir, 'svc').replaceAll('/', '\\/')} does not exist|exited`));
    mkdirSync(join(dir, 'svc'));
    writeFileSync(join(dir, 'svc', 'app.mjs'), 'console.log("back"); setInterval(() => {}, 1e9);\n');
    await run.waitForEvent('process.output', { line: 'back' }, 30_000);
    // And a later edit is seen too.
    const since = run.events.length;
    writeFileSync(join(dir, 'svc', 'app.mjs'), 'console.log("edited"); setInterval(() => {}, 1e9);\n');
    await run.waitForEvent('process.output', { line: 'edited' }, 30_000, since);
  });

  it('does not reload on its own log written inside the watched tree (airlock dev > airlock.log)', async () => {
    const dir = project(`services:\n  app:\n    run: { cmd: "node -e 'console.log(1); setInterval(() => {}, 1e9)'" }\n`);
    const log = join(dir, 'airlock.log');
    const fd = openSync(log, 'w');
    const child = spawn(process.execPath, [CLI, 'dev', '--log-format', 'json'], { cwd: dir, stdio: ['ignore', fd, fd], env: { ...process.env, NO_COLOR: '1' } });
    closeSync(fd);
    const pids = new Set<number>();
    cleanup(() => {
      child.kill('SIGKILL');
      for (const pid of pids) if (isAlive(pid)) process.kill(-pid, 'SIGKILL');
    });
    const events = async (): Promise<JsonEvent[]> => {
      const lines = readFileSync(log, 'utf8').split('\n').filter((line) => line.startsWith('{'));
      const parsed = lines.map((line) => JSON.parse(line) as JsonEvent);
      for (const e of parsed) if (e.type === 'process.started') pids.add(e.pid as number);
      return parsed;
    };
    const waitFor = async (test: (all: JsonEvent[]) => boolean) => {
      // The log is a file: reading it again is how its events are seen.
      for (let i = 0; i < 600 && !test(await events()); i++) await sleep(50);
      assert.ok(test(await events()), readFileSync(log, 'utf8'));
    };
    await waitFor((all) => all.some((e) => e.type === 'reload.ready'));
    writeFileSync(join(dir, 'sentinel.txt'), 'edit');
    await waitFor((all) => all.some((e) => e.type === 'change.detected'));
    const detected = (await events()).filter((e) => e.type === 'change.detected');
    assert.deepEqual(
      detected.map((e) => e.paths),
      [['sentinel.txt']],
    );
    child.kill('SIGINT');
    await new Promise((resolve) => child.once('exit', resolve));
  });

  it('builds and runs a project whose path has a space in it', async () => {
    const parent = tempProject();
    cleanup(() => removeProject(parent));
    const dir = join(parent, 'go proj');
    cpSync(join(ROOT, 'test', 'fixtures', 'plain-go'), dir, { recursive: true });
    const port = await freePort();
    writeFileSync(join(dir, 'airlock.yaml'), `services:\n  plain:\n    build: { cmd: "go build -o {artifact} ." }\n    run: { cmd: "{artifact}" }\n    listen: 127.0.0.1:${port}\n`);
    const run = start(dir);
    const built = await run.waitForEvent('build.started', { generation: 1 });
    assert.equal(built.cmd, `go build -o '${join(dir, '.airlock', 'bin', 'plain.build')}' .`);
    await run.waitForEvent('reload.ready', { generation: 1 }, 120_000);
    assert.equal(await get(port), 'plain v0 (generation 1)\n');
  });

  it('keeps two services built in one directory apart: each port serves its own binary, also after a crash', async () => {
    const dir = tempProject();
    cleanup(() => removeProject(dir));
    writeFileSync(join(dir, 'go.mod'), 'module example.com/two\n\ngo 1.19\n');
    for (const name of ['a', 'b']) {
      mkdirSync(join(dir, name));
      writeFileSync(
        join(dir, name, 'main.go'),
        `package main\n\nimport (\n\t"fmt"\n\t"net/http"\n\t"os"\n)\n\nfunc main() {\n\thttp.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "${name}") })\n\t_ = http.ListenAndServe("127.0.0.1:"+os.Getenv("PORT"), nil)\n}\n`,
      );
    }
    const [portA, portB] = [await freePort(), await freePort()];
    const service = (name: string, port: number) => `  ${name}:\n    build: { cmd: "go build -o {artifact} ./${name}" }\n    run: { cmd: "{artifact}" }\n    listen: 127.0.0.1:${port}\n`;
    writeFileSync(join(dir, 'airlock.yaml'), `services:\n${service('a', portA)}${service('b', portB)}`);
    const run = start(dir);
    // Either may be ready first: both waits look from the start.
    const readyA = await run.waitForEvent('reload.ready', { service: 'a', generation: 1 }, 120_000, 0);
    await run.waitForEvent('reload.ready', { service: 'b', generation: 1 }, 120_000, 0);
    assert.equal(await get(portA), 'a\n');
    assert.equal(await get(portB), 'b\n');
    process.kill(readyA.pid as number, 'SIGKILL');
    await run.waitForEvent('reload.ready', { service: 'a', generation: 2 }, 60_000);
    assert.equal(await get(portA), 'a\n', "a's port serves a's binary after its crash restart");
    assert.deepEqual(readdirSync(join(dir, '.airlock', 'bin')).sort(), ['a.g1', 'b.g1']);
  });

  it('keeps {artifact} when run.cmd is edited while the service never became ready', async () => {
    const dir = project('');
    writeFileSync(join(dir, 'app.sh'), `#!/bin/sh\n[ "$1" = ok ] || { echo "needs ok" >&2; exit 1; }\nexec node ${PLAIN_NODE}\n`);
    chmodSync(join(dir, 'app.sh'), 0o755);
    const port = await freePort();
    const yaml = (args: string) =>
      `services:\n  app:\n    build: { cmd: "cp app.sh {artifact}" }\n    run: { cmd: "{artifact}${args}" }\n    listen: 127.0.0.1:${port}\n    watch: { include: ["app.sh"] }\n`;
    writeFileSync(join(dir, 'airlock.yaml'), yaml(''));
    const run = start(dir);
    await run.waitForEvent('reload.failed', { generation: 1 });
    const since = run.events.length;
    writeFileSync(join(dir, 'airlock.yaml'), yaml(' ok'));
    const ready = await run.waitForEvent('reload.ready', {}, 60_000, since);
    assert.ok((ready.pid as number) > 0);
    assert.equal(await get(port), `plain node (generation ${ready.generation})\n`);
    assert.equal(run.events.slice(since).filter((e) => e.type === 'process.exited' && (e.end as { code?: number }).code === 127).length, 0, run.output());
  });

  it('says a build that exits 0 without writing {artifact} is the build\'s to fix, and keeps serving', async () => {
    const port = await freePort();
    const dir = project(`services:\n  app:\n    build: { cmd: "cp app.sh {artifact}" }\n    run: { cmd: "{artifact}" }\n    listen: 127.0.0.1:${port}\n    watch: { include: ["app.sh"] }\n`);
    writeFileSync(join(dir, 'app.sh'), `#!/bin/sh\nexec node ${PLAIN_NODE}\n`);
    chmodSync(join(dir, 'app.sh'), 0o755);
    const run = start(dir);
    const ready = await run.waitForEvent('reload.ready', { generation: 1 });
    const since = run.events.length;
    writeFileSync(join(dir, 'airlock.yaml'), readFileSync(join(dir, 'airlock.yaml'), 'utf8').replace('cp app.sh {artifact}', 'echo not writing {artifact}'));
    const failed = await run.waitForEvent('build.failed', {}, 60_000, since);
    assert.equal(failed.code, 'AIRLOCK_ERR_BUILD_NO_ARTIFACT');
    assert.equal(failed.message, `the build command exited 0 but did not write {artifact} (${join(dir, '.airlock', 'bin', 'app.build')}); g1 (pid ${ready.pid}) keeps running`);
    assert.equal(await get(port), 'plain node (generation 1)\n');
    assert.equal(run.events.filter((e) => e.code === 'AIRLOCK_ERR_INTERNAL').length, 0);
  });

  it('never replays a request that killed its backend into the next generation', async () => {
    const port = await freePort();
    const dir = project(`services:\n  app:\n    run: { cmd: "node ${PLAIN_NODE}" }\n    listen: 127.0.0.1:${port}\n`);
    const run = start(dir);
    await run.waitForEvent('reload.ready', { generation: 1 });
    assert.match((await get(port, '/die')) ?? '', /^upstream g1 failed: /);
    await run.waitForEvent('reload.ready', { generation: 2 }, 30_000);
    assert.equal(await get(port), 'plain node (generation 2)\n');
    assert.equal(run.events.filter((e) => e.type === 'process.exited' && e.generation === 2).length, 0, 'g2 was not sent /die');
  });

  it('answers a malformed control request with 400, and a flood of idle control connections costs the service nothing', async () => {
    const port = await freePort();
    const dir = project(`services:\n  app:\n    run: { cmd: "node ${PLAIN_NODE}" }\n    listen: 127.0.0.1:${port}\n`);
    const run = start(dir);
    await run.waitForEvent('reload.ready', { generation: 1 });
    const socketPath = join(dir, '.airlock', 'control.sock');
    const raw = (text: string) =>
      new Promise<string>((resolve) => {
        const socket = createConnection(socketPath);
        let answer = '';
        socket.on('data', (chunk) => (answer += chunk.toString()));
        socket.on('close', () => resolve(answer));
        socket.on('error', () => resolve(answer));
        socket.end(text);
      });
    assert.match(await raw('GET http://[::1 HTTP/1.1\r\nHost: airlock\r\n\r\n'), /^HTTP\/1\.1 400 /);
    assert.match(await raw('\x00\x01garbage\r\n\r\n'), /^HTTP\/1\.1 400 |^$/);
    const idle: Socket[] = [];
    cleanup(() => idle.forEach((s) => s.destroy()));
    for (let i = 0; i < 500; i++) {
      const socket = createConnection(socketPath);
      socket.on('error', () => undefined);
      idle.push(socket);
    }
    await Promise.all(idle.map((s) => new Promise((resolve) => (s.connecting ? s.once('connect', resolve).once('close', resolve) : resolve(undefined)))));
    assert.equal(await get(port), 'plain node (generation 1)\n', 'the service answers meanwhile');
    idle.forEach((s) => s.destroy());
    assert.equal((await control(dir, 'GET', '/status'))?.status, 200);
    assert.equal(run.child.exitCode, null);
  });

  it('says which process holds a proxy address in use, as LISTEN_FAILED with exit 1', async () => {
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', () => resolve()));
    cleanup(() => holder.close());
    const port = (holder.address() as { port: number }).port;
    const dir = project(`services:\n  app:\n    run: { cmd: "node ${PLAIN_NODE}" }\n    listen: 127.0.0.1:${port}\n    handoff: proxy\n`);
    const result = spawnSync(process.execPath, [CLI, 'dev'], { cwd: dir, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' }, timeout: 30_000 });
    assert.equal(result.status, 1, result.stderr);
    assert.match(result.stderr, new RegExp(`airlock: cannot listen on 127\\.0\\.0\\.1:${port}: EADDRINUSE: .* \\(held by pid ${process.pid}: `));
    assert.match(result.stderr, /AIRLOCK_ERR_LISTEN_FAILED/);
  });

  it('says a build was cancelled because airlock is stopping, not by a newer change', async () => {
    const dir = project(`services:\n  app:\n    build: { cmd: "echo building; sleep 30" }\n    run: { cmd: "node ${PLAIN_NODE}" }\n`);
    const run = new AirlockRun(['dev'], dir);
    cleanup(() => run.kill());
    await run.waitForLine(/app │ building$/);
    await run.interrupt('SIGTERM');
    assert.ok(run.lines.some((line) => line === 'app │ g1 build cancelled: airlock is stopping'), run.output());
  });
});
