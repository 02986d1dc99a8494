import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AirlockRun, freePort, removeProject, tempProject, type JsonEvent } from './helpers.ts';

const SERVICES = ['api', 'worker', 'admin'];

describe('a Go module with three services (examples/go-monorepo)', () => {
  let dir: string;
  let run: AirlockRun;
  const pids = new Map<string, number>();

  // Each test edits from whatever the file holds now, to a version no test used before:
  // the tests do not depend on each other's edits.
  let version = 10;
  const bump = (file: string, what: 'store' | 'admin') => edit(file, new RegExp(`${what} v\\d+`), `${what} v${++version}`);
  const edit = (file: string, from: string | RegExp, to: string) => {
    const path = join(dir, file);
    const text = readFileSync(path, 'utf8');
    const next = text.replace(from, to);
    assert.notEqual(next, text, `${file} changed`);
    writeFileSync(path, next);
  };

  /** Waits until each expected service is ready again; returns who built, and every event since. */
  const reloaded = async (expected: string[], since: number) => {
    for (const service of expected) await run.waitForEvent('reload.ready', { service }, 120_000, since);
    // Every service a change reached heard so (change.detected) before any of them was
    // ready: wait until each of the others started its build, or had it cancelled, or was
    // removed by the same edit; not for a while.
    const reached = SERVICES.filter((service) => !expected.includes(service) && run.events.slice(since).some((e) => e.type === 'change.detected' && e.service === service));
    for (const service of reached) {
      await run.waitForMatch(
        (e) => (e.service === service && (e.type === 'build.started' || e.type === 'build.cancelled')) || (e.type === 'airlock-yaml.applied' && (e.removed as string[]).includes(service)),
        60_000,
        since,
      );
    }
    const events = run.events.slice(since);
    const built = SERVICES.filter((service) => events.some((e) => e.type === 'build.started' && e.service === service));
    for (const e of events) if (e.type === 'reload.ready') pids.set(e.service as string, e.pid as number);
    return { built, events };
  };

  before(async () => {
    dir = tempProject('go-monorepo');
    const yaml = readFileSync(join(dir, 'airlock.yaml'), 'utf8').replace('127.0.0.1:8081', `127.0.0.1:${await freePort()}`).replace('127.0.0.1:8082', `127.0.0.1:${await freePort()}`);
    writeFileSync(join(dir, 'airlock.yaml'), yaml);
    run = new AirlockRun(['dev', '--log-format', 'json'], dir);
    await reloaded(SERVICES, 0);
  });

  after(() => {
    run?.kill();
    removeProject(dir);
  });

  it('started worker only after api was ready (dependsOn)', () => {
    const apiReady = run.events.findIndex((e) => e.type === 'reload.ready' && e.service === 'api');
    const workerBuild = run.events.findIndex((e) => e.type === 'build.started' && e.service === 'worker');
    assert.ok(apiReady !== -1 && workerBuild > apiReady, 'worker built after api was ready');
  });

  it('rebuilds exactly the two services that import an edited shared package; the third keeps its pid', async () => {
    const adminPid = pids.get('admin');
    const since = run.events.length;
    bump('internal/store/store.go', 'store');
    const { built, events } = await reloaded(['api', 'worker'], since);
    assert.deepEqual(built, ['api', 'worker']);
    const ready = events.filter((e) => e.type === 'reload.ready') as JsonEvent[];
    assert.ok(ready.every((e) => (e.reason as string[]).includes('internal/store/store.go')));
    assert.equal(pids.get('admin'), adminPid);
    assert.equal(events.filter((e) => e.type === 'change.unaffected' && e.service === 'admin').length, 1);
  });

  it('rebuilds the service whose package embeds a changed file', async () => {
    const since = run.events.length;
    bump('internal/admin/templates/index.html', 'admin');
    const { built } = await reloaded(['admin'], since);
    assert.deepEqual(built, ['admin']);
  });

  it('watches a file embedded after start (a new //go:embed line)', async () => {
    writeFileSync(join(dir, 'internal', 'admin', 'templates', 'footer.html'), 'footer v1');
    let since = run.events.length;
    edit('internal/admin/admin.go', 'var Page string', 'var Page string\n\n//go:embed templates/footer.html\nvar Footer string');
    assert.deepEqual((await reloaded(['admin'], since)).built, ['admin']);
    since = run.events.length;
    edit('internal/admin/templates/footer.html', 'footer v1', 'footer v2');
    assert.deepEqual((await reloaded(['admin'], since)).built, ['admin']);
  });

  it('updates the graph when a service gains an import', async () => {
    let since = run.events.length;
    edit('cmd/admin/main.go', '"example.com/shop/internal/admin"', '"example.com/shop/internal/admin"\n\t"example.com/shop/internal/store"');
    edit('cmd/admin/main.go', 'fmt.Fprint(w, admin.Page)', 'fmt.Fprint(w, admin.Page, store.Version)');
    assert.deepEqual((await reloaded(['admin'], since)).built, ['admin']);
    since = run.events.length;
    bump('internal/store/store.go', 'store');
    assert.deepEqual((await reloaded(['api', 'worker', 'admin'], since)).built, SERVICES);
    // Leave admin as it was: the other tests do not depend on this one's import.
    since = run.events.length;
    edit('cmd/admin/main.go', '\n\t"example.com/shop/internal/store"', '');
    edit('cmd/admin/main.go', 'fmt.Fprint(w, admin.Page, store.Version)', 'fmt.Fprint(w, admin.Page)');
    assert.deepEqual((await reloaded(['admin'], since)).built, ['admin']);
  });

  it('rebuilds every service when go.mod changes', async () => {
    const since = run.events.length;
    edit('go.mod', /go 1\.19(\n\n\/\/ touched \d+)?/, `go 1.19\n\n// touched ${++version}`);
    assert.deepEqual((await reloaded(SERVICES, since)).built, SERVICES);
  });

  it('gives one build per service for a git checkout that touches every package', async () => {
    const git = (...args: string[]) => execFileSync('git', ['-c', 'user.email=t@t', '-c', 'user.name=t', ...args], { cwd: dir, stdio: 'pipe' });
    writeFileSync(join(dir, '.gitignore'), '.airlock/\n');
    git('init', '-q', '-b', 'main');
    git('add', '-A');
    git('commit', '-qm', 'base');
    git('checkout', '-qb', 'other');
    bump('internal/store/store.go', 'store');
    bump('internal/admin/templates/index.html', 'admin');
    edit('cmd/api/main.go', /api!* \(%s\)/, `api${'!'.repeat(version)} (%s)`);
    edit('cmd/worker/main.go', /worker!* \(%s\) started/, `worker${'!'.repeat(version)} (%s) started`);
    const edited = run.events.length;
    git('commit', '-qam', 'other');
    // Let that series of edits build first: every build started has finished.
    await reloaded(SERVICES, edited);
    const finished = (type: string) => run.events.slice(edited).filter((e) => e.type === type).length;
    while (finished('build.started') > finished('reload.ready') + finished('build.failed') + finished('build.cancelled')) {
      await run.waitForLine(/"type":"(reload\.ready|build\.failed|build\.cancelled)"/, 60_000);
    }
    git('checkout', '-q', 'main');
    const since = run.events.length;
    const { events } = await reloaded(SERVICES, since);
    // Only a completed build counts: the checkout's first file may start a build early
    // (an isolated save goes at once), which the rest of the checkout cancels.
    for (const service of SERVICES) {
      const count = (type: string) => events.filter((e) => e.type === type && e.service === service).length;
      const trace = events.filter((e) => !e.type.endsWith('.output')).map((e) => JSON.stringify(e)).join('\n');
      assert.equal(count('reload.ready'), 1, `${service}: one new generation\n${trace}`);
      assert.equal(count('build.started') - count('build.cancelled'), 1, `${service}: one completed build\n${trace}`);
    }
  });

  it('applies airlock.yaml edits to the module: a removed service stops and leaves the graph, an added one joins it', async () => {
    const path = join(dir, 'airlock.yaml');
    const full = readFileSync(path, 'utf8');
    const withoutAdmin = full.slice(0, full.indexOf('  admin:'));
    let since = run.events.length;
    writeFileSync(path, withoutAdmin);
    const removed = await run.waitForEvent('airlock-yaml.applied', {}, 60_000, since);
    assert.deepEqual(removed.removed, ['admin']);
    await run.waitForEvent('process.exited', { service: 'admin' }, 60_000, since);

    since = run.events.length;
    bump('internal/store/store.go', 'store');
    const { built, events } = await reloaded(['api', 'worker'], since);
    assert.deepEqual(built, ['api', 'worker']);
    assert.equal(events.filter((e) => e.service === 'admin').length, 0, 'admin is gone from the module detector');

    since = run.events.length;
    writeFileSync(path, full);
    const added = await run.waitForEvent('airlock-yaml.applied', {}, 60_000, since);
    assert.deepEqual(added.added, ['admin']);
    assert.deepEqual((await reloaded(['admin'], since)).built, ['admin']);
    since = run.events.length;
    bump('internal/admin/templates/index.html', 'admin');
    assert.deepEqual((await reloaded(['admin'], since)).built, ['admin']);
  });

  it('a checkout that changes airlock.yaml and sources at once: the edit applies and every changed service rebuilds', async () => {
    const git = (...args: string[]) => execFileSync('git', ['-c', 'user.email=t@t', '-c', 'user.name=t', ...args], { cwd: dir, stdio: 'pipe' });
    const path = join(dir, 'airlock.yaml');
    const full = readFileSync(path, 'utf8');
    if (!existsSync(join(dir, '.git'))) {
      writeFileSync(join(dir, '.gitignore'), '.airlock/\n');
      git('init', '-q', '-b', 'main');
    }
    git('add', '-A');
    git('commit', '-qm', 'before the yaml branch');
    git('checkout', '-qb', 'yaml-and-sources');
    let since = run.events.length;
    writeFileSync(path, full.slice(0, full.indexOf('  admin:')));
    await run.waitForEvent('airlock-yaml.applied', {}, 60_000, since);
    bump('internal/store/store.go', 'store');
    edit('cmd/api/main.go', /api!* \(%s\)/, `api${'!'.repeat(++version)} (%s)`);
    await reloaded(['api', 'worker'], since);
    git('commit', '-qam', 'drop admin, new store');
    since = run.events.length;
    git('checkout', '-q', 'main');
    await reloaded(['api', 'worker', 'admin'], since);

    // The branch's airlock.yaml and sources arrive in one burst.
    since = run.events.length;
    git('checkout', '-q', 'yaml-and-sources');
    const { built } = await reloaded(['api', 'worker'], since);
    assert.deepEqual(built, ['api', 'worker']);
    // The edit may be applied after the sources' rebuilds are ready: wait for it.
    assert.deepEqual((await run.waitForEvent('airlock-yaml.applied', {}, 60_000, since)).removed, ['admin']);
  });
});
