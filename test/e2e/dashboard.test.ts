import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { KeyedLoad } from '../../scripts/keyed-load.ts';
import { createServer, request } from 'node:http';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { AirlockRun, CLI, ROOT, cleanupAfter, freePorts, getOnce, launchChromium, removeProject, tempProject } from './helpers.ts';

const SHOTS = join(ROOT, 'test-results');

/** One request with whatever Host and Origin a test gives (a browser page elsewhere would send its own). */
function ask(port: number, method: string, path: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('airlock dev --ui: the dashboard', () => {
  const cleanup = cleanupAfter();

  it('says which address is taken when the dashboard cannot listen, and how to choose another', async () => {
    const dir = tempProject();
    cleanup(() => removeProject(dir));
    const [port, uiPort] = (await freePorts(2)) as [number, number];
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(uiPort, '127.0.0.1', () => resolve()));
    cleanup(() => taken.close());
    writeFileSync(join(dir, 'server.js'), "require('http').createServer((q, s) => s.end('v1')).listen(process.env.PORT, '127.0.0.1');\n");
    writeFileSync(join(dir, 'airlock.yaml'), `services:\n  web:\n    run: { cmd: node server.js }\n    listen: 127.0.0.1:${port}\n`);
    const run = new AirlockRun(['dev', '--ui', `127.0.0.1:${uiPort}`], dir);
    cleanup(() => run.kill());
    const exit = await run.exited;
    assert.notEqual(exit.code, 0);
    assert.match(run.output(), new RegExp(`the dashboard: cannot listen on 127\\.0\\.0\\.1:${uiPort}: EADDRINUSE.*give it another address with --ui HOST:PORT or ui: \\{ listen \\} in airlock\\.yaml`));
  });

  it('shows each service and one bar per reload, live, acts from its own page only, and refuses other pages', async () => {
    const dir = tempProject();
    cleanup(() => removeProject(dir));
    const [port, uiPort] = (await freePorts(2)) as [number, number];
    writeFileSync(join(dir, 'server.js'), "require('http').createServer((q, s) => s.end('v1')).listen(process.env.PORT, '127.0.0.1');\n");
    writeFileSync(join(dir, 'airlock.yaml'), `services:\n  web:\n    run: { cmd: node server.js }\n    listen: 127.0.0.1:${port}\n    health: { http: { path: / } }\n    watch: { include: ['*.js'] }\n    stop: { drain: 1s }\n`);
    const run = new AirlockRun(['dev', '--ui', `127.0.0.1:${uiPort}`, '--log-format', 'json'], dir);
    cleanup(() => run.kill());
    const notice = await run.waitForMatch((e) => e.type === 'notice' && String(e.message).startsWith('dashboard: '), 60_000, 0);
    const url = String(notice.message).slice('dashboard: '.length);
    const token = new URL(url).searchParams.get('token') as string;
    await run.waitForEvent('reload.ready', { generation: 1 }, 60_000, 0);

    // Refusals: another name for 127.0.0.1 (DNS rebinding), no token, an action without or from another origin.
    const host = `127.0.0.1:${uiPort}`;
    assert.equal((await ask(uiPort, 'GET', `/?token=${token}`, { host: `evil.example:${uiPort}` })).status, 421);
    assert.equal((await ask(uiPort, 'GET', '/api/status', { host })).status, 401);
    assert.equal((await ask(uiPort, 'POST', '/api/reload?service=web', { host, 'x-airlock-token': token })).status, 403, 'an action with no Origin');
    assert.equal((await ask(uiPort, 'POST', '/api/reload?service=web', { host, 'x-airlock-token': token, origin: 'http://evil.example' })).status, 403, 'an action from another page');
    assert.equal((await ask(uiPort, 'POST', '/api/reload?service=web', { host, origin: `http://${host}` })).status, 401, 'an action without the token');
    assert.ok(!run.events.some((e) => e.type === 'reload.ready' && e.generation === 2), 'nothing refused did anything');

    const browser = await launchChromium(cleanup);
    const page = await browser.newPage({ viewport: { width: 1200, height: 520 } });
    await page.goto(url);
    const row = page.locator('tr[data-service="web"]');
    await row.waitFor();
    await page.waitForFunction(() => document.querySelector('#connection')?.textContent === 'live');
    assert.match((await row.textContent()) ?? '', /web\s*ready\s*g1/);
    assert.match((await row.textContent()) ?? '', /100 %/, 'the serving generation takes every user');

    // A save: a new bar, with its phases and what changed.
    writeFileSync(join(dir, 'server.js'), "require('http').createServer((q, s) => s.end('v2')).listen(process.env.PORT, '127.0.0.1');\n");
    const bars = page.locator('#timeline .bar');
    await bars.first().waitFor({ timeout: 60_000 });
    // g1 drained once g2 took over: the bar ends with it.
    await page.waitForFunction(() => document.querySelector('#timeline .bar .p-drain') !== null, undefined, { timeout: 30_000 });
    assert.match((await bars.first().textContent()) ?? '', /web g2 ← server\.js/);
    assert.ok((await bars.first().locator('.p-start').count()) === 1, 'the start phase is drawn');

    // The page acts: its reload button (same origin, with the token) starts generation 3.
    await row.locator('button', { hasText: 'reload' }).click();
    await page.waitForFunction(() => document.querySelectorAll('#timeline .bar').length === 2, undefined, { timeout: 60_000 });
    assert.match((await bars.first().textContent()) ?? '', /web g3 ← reload requested/);
    await page.waitForFunction(() => document.querySelectorAll('tr[data-service="web"] td')[2]?.textContent === 'g3');
    // The version snapshot: g3 beside g2, in the page and in `airlock status --compare`.
    await page.locator('#versions table[data-service="web"]').waitFor();
    assert.match((await page.locator('#versions').textContent()) ?? '', /g3 \(serving\)g2 \(before\)start-up\d+ ms\d+ ms/);
    mkdirSync(SHOTS, { recursive: true });
    await page.screenshot({ path: join(SHOTS, 'dashboard.png'), fullPage: true });
    for (let i = 0; i < 3; i++) assert.equal(await getOnce(port, '/'), 'v2');
    const { execFileSync } = await import('node:child_process');
    const compared = execFileSync(process.execPath, [CLI, 'status', '--compare'], { cwd: dir, encoding: 'utf8' });
    assert.match(compared, /^web\s+g3 \(serving\)\s+g2 \(before\)$/m);
    assert.match(compared, /^start-up\s+\d+ ms\s+\d+ ms$/m);
    assert.match(compared, /^memory peak\s+[\d.]+ MiB\s+[\d.]+ MiB$/m);
    assert.match(compared, /^2xx\s+100 %\s+-$/m, 'g3 answered the three requests, g2 none');
    assert.match(compared, /^requests\s+3\s+0$/m);
    await run.interrupt();
  });

  it('plots a canary: its share, and both sides\' error rate and p99, with axes and units', async () => {
    const dir = tempProject();
    cleanup(() => removeProject(dir));
    copyFileSync(join(ROOT, 'test', 'fixtures', 'canary-app.mjs'), join(dir, 'app.mjs'));
    writeFileSync(join(dir, 'behaviour.json'), JSON.stringify({ version: 'v1' }));
    const [port, uiPort] = (await freePorts(2)) as [number, number];
    writeFileSync(
      join(dir, 'airlock.yaml'),
      `services:\n  web:\n    build: { cmd: "cp behaviour.json {artifact}" }\n    run: { cmd: "node app.mjs {artifact}" }\n    watch: { include: [behaviour.json] }\n    listen: 127.0.0.1:${port}\n    health: { http: { path: /healthz } }\n    stop: { drain: 2s }\n    rollout: { strategy: canary, steps: [20, 50, 100], interval: 1500ms, key: header:x-user-id, group: ui, analysis: { minRequests: 10 } }\n`,
    );
    const run = new AirlockRun(['dev', '--ui', `127.0.0.1:${uiPort}`, '--log-format', 'json'], dir);
    cleanup(() => run.kill());
    const notice = await run.waitForMatch((e) => e.type === 'notice' && String(e.message).startsWith('dashboard: '), 60_000, 0);
    await run.waitForEvent('reload.ready', { generation: 1 }, 60_000, 0);
    const load = new KeyedLoad(port, { users: 200 });
    cleanup(() => load.stop());
    const browser = await launchChromium(cleanup);
    const page = await browser.newPage({ viewport: { width: 1200, height: 760 } });
    await page.goto(String(notice.message).slice('dashboard: '.length));
    await page.waitForFunction(() => document.querySelector('#connection')?.textContent === 'live');
    writeFileSync(join(dir, 'behaviour.json'), JSON.stringify({ version: 'v2' }));
    await run.waitForEvent('rollout.promoted', { canary: 2 }, 90_000, 0);
    await load.stop();
    const plots = page.locator('.plots[data-service="web"]');
    await page.waitForFunction(() => (document.querySelector('.plots[data-service="web"] polyline[data-series="share"]')?.getAttribute('points') ?? '').split(' ').length >= 3);
    const text = (await plots.textContent()) ?? '';
    for (const label of ['canary share', 'error rate', 'p99', '100 %', ' ms', ' s']) assert.ok(text.includes(label), `${label} in ${text}`);
    assert.equal(await plots.locator('polyline[data-series="canary"]').count(), 2, 'the canary drawn in error rate and p99');
    assert.equal(await plots.locator('polyline[data-series="stable"]').count(), 2);
    mkdirSync(SHOTS, { recursive: true });
    await page.locator('#canaries').screenshot({ path: join(SHOTS, 'dashboard-canary.png') });
    await run.interrupt();
  });
});
