import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { AirlockRun, cleanupAfter, freePort, isAlive, removeProject, tempProject } from './helpers.ts';

/** A Node server that answers its health path with `status`. */
function server(status: number): string {
  return `node -e "require('http').createServer((q, s) => { s.statusCode = q.url === '/healthz' ? ${status} : 200; s.end('hi') }).listen(process.env.PORT, '127.0.0.1')"`;
}

async function project(cleanup: (...steps: (() => unknown)[]) => void, run: string, extra = ''): Promise<string> {
  const dir = tempProject();
  cleanup(() => removeProject(dir));
  const port = await freePort();
  writeFileSync(join(dir, 'airlock.yaml'), `services:\n  web:\n    run: { cmd: ${JSON.stringify(run)} }\n    listen: 127.0.0.1:${port}\n    health: { http: { path: /healthz }, startTimeout: 3s }\n${extra}`);
  return dir;
}

describe('airlock dev --once (scripts and CI smoke tests)', () => {
  const cleanup = cleanupAfter();

  it('exits 0 once every service is ready, leaving nothing running', async () => {
    const dir = await project(cleanup, server(200));
    const run = new AirlockRun(['dev', '--once', '--log-format', 'json'], dir);
    cleanup(() => run.kill());
    const { code } = await run.exited;
    assert.equal(code, 0, run.output());
    assert.ok(run.events.some((e) => e.type === 'reload.ready'));
    for (const pid of run.childPids) assert.ok(!isAlive(pid), `g1 (pid ${pid}) was stopped`);
  });

  it('exits 1 with the reason when the service fails its probe', async () => {
    const dir = await project(cleanup, server(503));
    const run = new AirlockRun(['dev', '--once'], dir);
    cleanup(() => run.kill());
    const { code } = await run.exited;
    assert.equal(code, 1, run.output());
    assert.match(run.output(), /--once: web did not become ready: .*503/);
    for (const pid of run.childPids) assert.ok(!isAlive(pid));
  });
});

describe('airlock dev --notify and --clear', () => {
  const cleanup = cleanupAfter();

  it('notifies on a failed build and on the first good one after it, and clears the screen before each build', async () => {
    const dir = tempProject();
    cleanup(() => removeProject(dir));
    // A notify-send that records what it was asked to say.
    const bin = join(dir, 'bin');
    mkdirSync(bin);
    writeFileSync(join(bin, 'notify-send'), `#!/bin/sh\n{ printf '%s|' "$@" | tr '\\n' ' '; echo; } >> "${join(dir, 'notified.log')}"\n`);
    chmodSync(join(bin, 'notify-send'), 0o755);
    writeFileSync(join(dir, 'src.txt'), 'good');
    writeFileSync(join(dir, 'build.sh'), 'grep -q good src.txt || { echo "src.txt:1:1: broken" >&2; exit 1; }\n');
    writeFileSync(
      join(dir, 'airlock.yaml'),
      `services:\n  app:\n    build: { cmd: 'sh build.sh' }\n    run: { cmd: 'echo serving; exec sleep 600' }\n    watch: { include: ['src.txt'] }\n`,
    );
    const run = new AirlockRun(['dev', '--notify', '--clear'], dir, { PATH: `${bin}:${process.env.PATH ?? ''}` });
    cleanup(() => run.kill());
    await run.waitForLine(/serving/, 60_000, 0);
    writeFileSync(join(dir, 'src.txt'), 'bad');
    await run.waitForLine(/AIRLOCK_ERR_BUILD_FAILED/, 60_000);
    writeFileSync(join(dir, 'src.txt'), 'good again');
    await run.waitForLine(/g3 started/, 60_000);
    const notified = () => (existsSync(join(dir, 'notified.log')) ? readFileSync(join(dir, 'notified.log'), 'utf8').trim().split('\n') : []);
    for (let i = 0; i < 100 && notified().length < 2; i++) await new Promise((resolve) => setTimeout(resolve, 50));
    const [failed, fixed, ...more] = notified();
    assert.match(failed ?? '', /--urgency=critical\|airlock: app build failed\|build exited with code 1 at src\.txt:1:1/);
    assert.match(fixed ?? '', /airlock: app builds again\|g3 is starting/);
    assert.deepEqual(more, [], 'the first good build only, and none at start');
    // Each build's own line comes right after a clear.
    const clear = '\x1b[2J\x1b[3J\x1b[H';
    const builds = run.lines.flatMap((line, i) => (/g\d building/.test(line) ? [`${run.lines[i - 1] ?? ''}${line}`] : []));
    assert.equal(builds.length, 3);
    assert.ok(builds.every((line) => line.includes(`${clear}app`)), builds.join('\n'));
    await run.interrupt();
  });
});
