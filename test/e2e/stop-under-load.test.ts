import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Load } from '../../scripts/http-load.ts';
import { AirlockRun, cleanupAfter, freePort, removeProject, tempProject } from './helpers.ts';

/**
 * Ctrl-C while clients keep their keep-alive connections busy: the proxy stops taking
 * connections and tells clients to close theirs (Connection: close) before the app gets
 * its stop signal, so airlock exits promptly and no request is sent to an app already
 * stopped (no 502s, no requests held for the hold time). A plain Node app, no helpers.
 */
const APP = `const server = require('node:http').createServer((req, res) => res.end('up'));
server.listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
`;

// The proxy also on three processes: every worker closes its connections as airlock's own does.
for (const { handoff, workers } of [{ handoff: 'proxy', workers: 1 }, { handoff: 'proxy', workers: 3 }, { handoff: 'tcp-proxy', workers: 1 }] as const) {
  describe(`stopping under keep-alive load (handoff: ${handoff}${workers > 1 ? `, ${workers} proxy processes` : ''})`, () => {
    const cleanup = cleanupAfter();

    it('exits 0 within the stop timeout, and every answer the clients got is the app\'s', async () => {
      const dir = tempProject();
      cleanup(() => removeProject(dir));
      const port = await freePort();
      writeFileSync(join(dir, 'server.cjs'), APP);
      writeFileSync(join(dir, 'airlock.yaml'), `services:\n  web:\n    run: { cmd: "node server.cjs" }\n    listen: 127.0.0.1:${port}\n    handoff: ${handoff}\n${handoff === 'proxy' ? `    proxy: { workers: ${workers} }\n` : ''}    stop: { timeout: 10s, drain: 5s }\n`);
      const run = new AirlockRun(['run', '--log-format', 'json'], dir);
      cleanup(() => run.kill());
      await run.waitForEvent('reload.ready', { generation: 1 });
      const load = new Load(port, 4);
      cleanup(() => load.stop());
      await load.until('up');
      // Bounded by the stop timeout (10 s) and what it takes to drain: a stop that hangs on busy keep-alive connections fails here.
      const { code } = await run.interrupt('SIGINT', 20_000);
      assert.equal(code, 0);
      await load.stop();
      assert.deepEqual(load.failures.filter((failure) => failure.startsWith('status')), [], 'no answer but the app\'s (a 502 means a request went to the stopped app)');
      assert.ok(load.ok > 0);
    });
  });
}
