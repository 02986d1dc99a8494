import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AirlockRun, freePort, get, isAlive, isPortFree, removeProject, tempProject } from './helpers.ts';

function config(port: number, extra = ''): string {
  return `services:\n  hello:\n    go: { main: . }\n    listen: 127.0.0.1:${port}\n${extra}`;
}

describe('airlock dev on a Go service (examples/go-hello)', () => {
  let dir: string;
  let port: number;
  let run: AirlockRun;
  const main = () => join(dir, 'main.go');

  before(async () => {
    dir = tempProject('go-hello');
    port = await freePort();
    writeFileSync(join(dir, 'airlock.yaml'), config(port, '    watch: { debounce: 100ms }\n'));
    run = new AirlockRun(['dev', '--log-format', 'json'], dir);
    await run.waitForEvent('reload.ready', { generation: 1 }, 120_000);
  });

  after(() => {
    run.kill();
    removeProject(dir);
  });

  it('serves the first build', async () => {
    assert.equal(await get(port), 'hello from go-hello (generation 1)\n');
  });

  it('serves an edit after the reload', async () => {
    const since = run.events.length;
    writeFileSync(main(), readFileSync(main(), 'utf8').replace('hello from go-hello', 'edited go-hello'));
    const ready = await run.waitForEvent('reload.ready', {}, 60_000, since);
    assert.deepEqual(ready.reason, ['main.go']);
    assert.match(String(await get(port)), /^edited go-hello \(generation \d+\)\n$/);
  });

  it('keeps the old pid serving through a syntax error and shows where it is', async () => {
    const serving = [...run.events].reverse().find((e) => e.type === 'reload.ready') as { pid: number };
    const since = run.events.length;
    const good = readFileSync(main(), 'utf8');
    writeFileSync(main(), good.replace('func main() {', 'func main() {\n\tthis is not go'));
    const failed = await run.waitForEvent('build.failed', {}, 60_000, since);
    assert.equal(failed.code, 'AIRLOCK_ERR_BUILD_FAILED');
    assert.ok((failed.locations as string[]).some((l) => /main\.go:\d+:\d+$/.test(l)), `locations: ${String(failed.locations)}`);
    assert.match(String(failed.message), new RegExp(`keeps running`));
    assert.ok(isAlive(serving.pid), 'the old generation is still alive');
    assert.match(String(await get(port)), /^edited go-hello/);
    assert.equal(run.events.slice(since).filter((e) => e.type === 'process.started').length, 0, 'nothing was started');

    const fixed = run.events.length;
    writeFileSync(main(), good);
    await run.waitForEvent('reload.ready', {}, 60_000, fixed);
  });

  it('turns a burst of 100 writes in one second into one build', async () => {
    const since = run.events.length;
    const base = readFileSync(main(), 'utf8');
    for (let i = 0; i < 100; i++) {
      writeFileSync(main(), `${base}\n// burst ${i}\n`);
      await new Promise((r) => setTimeout(r, 10));
    }
    await run.waitForEvent('reload.ready', {}, 60_000, since);
    // Only a completed build counts (an early build of the first write, cancelled, may precede it).
    const count = (type: string) => run.events.slice(since).filter((e) => e.type === type).length;
    assert.equal(count('reload.ready'), 1, run.output());
    assert.equal(count('build.started') - count('build.cancelled'), 1, run.output());
  });

  it('starts nothing when a save leaves the content as it was', async () => {
    const since = run.events.length;
    writeFileSync(main(), readFileSync(main(), 'utf8'));
    await run.waitForEvent('change.unchanged', {}, 30_000, since);
    assert.equal(run.events.slice(since).filter((e) => e.type === 'build.started').length, 0);
  });
});

describe('stopping airlock', () => {
  let dir: string;
  let run: AirlockRun;
  after(() => {
    run?.kill();
    removeProject(dir);
  });

  it('leaves no process (not even a setsid grandchild) and frees the port', async () => {
    dir = tempProject('go-hello');
    const port = await freePort();
    const runCmd = `    run: { cmd: "setsid sleep 300 & echo grandchild=$!; exec {artifact}" }\n`;
    writeFileSync(join(dir, 'airlock.yaml'), config(port, runCmd));
    run = new AirlockRun(['dev', '--log-format', 'json'], dir);
    const ready = await run.waitForEvent('reload.ready', { generation: 1 }, 120_000);
    const line = await run.waitForLine(/grandchild=\d+/, 10_000, 0);
    const grandchild = Number(/grandchild=(\d+)/.exec(line)?.[1]);
    run.childPids.add(grandchild);
    assert.ok(isAlive(grandchild) && isAlive(ready.pid as number));
    assert.ok(!isPortFree(port));

    const { code } = await run.interrupt('SIGINT');
    assert.equal(code, 0);
    assert.ok(!isAlive(ready.pid as number), 'service is gone');
    assert.ok(!isAlive(grandchild), 'setsid grandchild is gone');
    assert.ok(isPortFree(port), 'port is free');
  });
});
