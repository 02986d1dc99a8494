import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { AirlockRun, ROOT, cleanupAfter, freePort, launchChromium, getOnce, removeProject, tempProject } from './helpers.ts';

/** Where the test run leaves its screenshots (docs/ui.md shows one). */
const SHOTS = join(ROOT, 'test-results');

/** An app written without any airlock helper: a page, JSON, a gzip page, an opted-out page, its own event stream. */
const SERVER = `
const http = require('http');
const zlib = require('zlib');
const text = require('fs').readFileSync('out.txt', 'utf8').trim();
const css = require('fs').readFileSync('style.css', 'utf8');
const page = (body) => '<!doctype html><html><head><title>app</title><link rel="stylesheet" href="/style.css"></head><body><h1>' + body + '</h1></body></html>';
http.createServer((req, res) => {
  if (req.url.startsWith('/style.css')) return res.writeHead(200, { 'content-type': 'text/css' }).end(css);
  if (req.url === '/data.json') return res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ text }));
  if (req.url === '/gz') return res.writeHead(200, { 'content-type': 'text/html', 'content-encoding': 'gzip' }).end(zlib.gzipSync(page(text)));
  if (req.url === '/opt-out') return res.writeHead(200, { 'content-type': 'text/html', 'x-airlock-live-reload': 'off' }).end(page(text));
  if (req.url === '/stream') { res.writeHead(200, { 'content-type': 'text/event-stream' }); return res.end('data: ' + text + '\\n\\n'); }
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(page(text));
}).listen(process.env.PORT, '127.0.0.1');
`;

describe('browser live reload (proxy: { liveReload: true }), in Chromium', () => {
  const cleanup = cleanupAfter();

  it('reloads the page once the new generation serves, shows a failed build over it, and leaves other responses alone', async () => {
    const dir = tempProject();
    cleanup(() => removeProject(dir));
    const port = await freePort();
    writeFileSync(join(dir, 'server.js'), SERVER);
    writeFileSync(join(dir, 'src.txt'), 'one');
    writeFileSync(join(dir, 'style.css'), 'h1 { color: rgb(0, 0, 255); }\n');
    // A build that fails like a compiler: file:line:col on stderr.
    writeFileSync(join(dir, 'build.sh'), 'if grep -q bad src.txt; then echo "src.txt:3:7: expected a greeting, found bad" >&2; exit 1; fi\ncp src.txt out.txt\n');
    writeFileSync(
      join(dir, 'airlock.yaml'),
      `services:\n  web:\n    build: { cmd: sh build.sh }\n    run: { cmd: node server.js }\n    listen: 127.0.0.1:${port}\n    health: { http: { path: /data.json } }\n    watch: { include: [src.txt], restartOnly: ['*.css'], debounce: 20ms }\n    proxy: { liveReload: true }\n    stop: { drain: 1s }\n`,
    );
    const run = new AirlockRun(['dev', '--log-format', 'json'], dir);
    cleanup(() => run.kill());
    await run.waitForEvent('reload.ready', { generation: 1 }, 60_000, 0);

    // What is not a plain HTML page passes untouched.
    assert.equal(await getOnce(port, '/data.json'), JSON.stringify({ text: 'one' }));
    assert.equal(await getOnce(port, '/stream'), 'data: one\n\n');
    assert.doesNotMatch((await getOnce(port, '/opt-out')) ?? '', /__airlock/);
    const html = (await getOnce(port, '/')) ?? '';
    assert.equal(html.split('/__airlock/live/client.js').length - 1, 1, 'one script per page');

    const browser = await launchChromium(cleanup);
    const page = await browser.newPage();
    let loads = 0;
    page.on('load', () => loads++);
    await page.goto(`http://127.0.0.1:${port}/`);
    await page.waitForFunction(() => (window as unknown as { __airlockLiveReload?: boolean }).__airlockLiveReload === true);
    assert.equal(await page.textContent('h1'), 'one');
    // The event stream is connected before the save (the script's hello).
    await page.waitForTimeout(200);

    // A good change: the page reloads by itself, once, and shows the new text.
    const before = loads;
    const since = run.events.length;
    writeFileSync(join(dir, 'src.txt'), 'two');
    await page.waitForFunction(() => document.querySelector('h1')?.textContent === 'two', undefined, { timeout: 60_000 });
    assert.ok(run.events.slice(since).some((e) => e.type === 'reload.ready' && e.generation === 2), 'reloaded after g2 was ready');
    assert.equal(loads - before, 1, 'one reload per new generation');

    // Only a stylesheet: the new generation serves it, and the page swaps it without reloading.
    const styled = loads;
    writeFileSync(join(dir, 'style.css'), 'h1 { color: rgb(255, 0, 0); }\n');
    await page.waitForFunction(() => getComputedStyle(document.querySelector('h1') as Element).color === 'rgb(255, 0, 0)', undefined, { timeout: 60_000 });
    assert.equal(loads, styled, 'no page reload for a CSS-only change');

    // A failed build: the overlay names the file and line, and the old page stays under it.
    writeFileSync(join(dir, 'src.txt'), 'bad');
    const overlay = page.locator('#airlock-build-failed');
    await overlay.waitFor({ timeout: 60_000 });
    assert.match((await overlay.textContent()) ?? '', /Build failed: web g4/);
    assert.match((await overlay.textContent()) ?? '', /src\.txt:3:7/);
    assert.equal(await page.textContent('h1'), 'two');
    mkdirSync(SHOTS, { recursive: true });
    await page.screenshot({ path: join(SHOTS, 'live-reload-build-failed.png') });

    // The next good build takes the overlay away with a reload.
    writeFileSync(join(dir, 'src.txt'), 'three');
    await page.waitForFunction(() => document.querySelector('h1')?.textContent === 'three' && !document.getElementById('airlock-build-failed'), undefined, { timeout: 60_000 });
    await run.interrupt();
  });
});
