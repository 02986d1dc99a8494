import assert from 'node:assert/strict';
import { get } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parseConfigText } from '../src/config/load.ts';
import { planServices } from '../src/config/plan.ts';
import { EventBus, type AirlockEvent } from '../src/events.ts';
import type { NewArtifacts, ObtainContext, Obtained } from '../src/pipeline/artifact-source.ts';
import { ServiceRunner } from '../src/pipeline/runner.ts';
import { freePort } from '../src/swap/proxy-handoff.ts';

/** A Node app as a release would carry it: answers its version on $PORT. */
const app = (version: string, crash = false) => `
const http = require('node:http');
${crash ? 'process.exit(3);' : ''}
const server = http.createServer((req, res) => res.end('${version}'));
server.listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
`;

/** Neither a build nor a release: hands out the files it is given, one per obtain. */
class FakeSource implements NewArtifacts {
  readonly kind = 'new';
  readonly needsArtifact = true;
  lastObtained: string | undefined;
  readonly asked: ObtainContext[] = [];
  readonly #files: string[];
  constructor(files: readonly string[]) {
    this.#files = [...files];
  }
  reusable(): boolean {
    return true;
  }
  async obtain(context: ObtainContext): Promise<Obtained> {
    this.asked.push(context);
    const artifact = this.#files.shift();
    if (artifact === undefined) return { ok: false };
    this.lastObtained = artifact;
    return { ok: true, artifact };
  }
}

function answer(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    // A fresh connection each time: no keep-alive client that could retry.
    get({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
      let body = '';
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () => resolve(body));
    }).on('error', reject);
  });
}

describe('ServiceRunner with an injected artifact source (no build, no release)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'airlock-source-'));
  let runner: ServiceRunner | undefined;
  after(async () => {
    await runner?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs what the source gives through the same gate and swap, and keeps the good one when the next fails', async () => {
    const files = ['v1', 'v2', 'v3'].map((version) => {
      const file = join(dir, `${version}.cjs`);
      writeFileSync(file, app(version, version === 'v3'));
      return file;
    });
    const port = await freePort();
    const yaml = `services:\n  app:\n    run: { cmd: "node {artifact}" }\n    listen: 127.0.0.1:${port}\n    handoff: proxy\n    health: { http: { path: / }, startTimeout: 20s }\n`;
    const [plan] = await planServices(parseConfigText(yaml, join(dir, 'airlock.yaml')).config, dir);
    const source = new FakeSource(files);
    const bus = new EventBus();
    const events: AirlockEvent[] = [];
    const waiters: { test: (e: AirlockEvent) => boolean; resolve: (e: AirlockEvent) => void }[] = [];
    bus.subscribe((event) => {
      events.push(event);
      for (const waiter of waiters.filter((w) => w.test(event))) waiter.resolve(event);
    });
    const next = (test: (e: AirlockEvent) => boolean) => new Promise<AirlockEvent>((resolve) => waiters.push({ test, resolve }));

    runner = new ServiceRunner(plan!, bus, { source: () => source });
    const first = next((e) => e.type === 'reload.ready' || e.type === 'reload.failed');
    await runner.start();
    assert.equal((await first).type, 'reload.ready', JSON.stringify(events.slice(-5)));
    assert.equal(await answer(port), 'v1');

    const second = next((e) => e.type === 'reload.ready' || e.type === 'reload.failed');
    runner.reload(['a new release']);
    assert.deepEqual(await second, { ...(await second), type: 'reload.ready', generation: 2 });
    assert.equal(await answer(port), 'v2');
    assert.equal(source.asked[1]?.same, files[0], 'the source is told what runs now');

    // v3 exits at start: it never takes traffic, v2 keeps serving.
    const third = next((e) => e.type === 'reload.failed');
    runner.reload(['a bad release']);
    const failed = (await third) as Extract<AirlockEvent, { type: 'reload.failed' }>;
    assert.match(failed.message, /^g3: .*; g2 \(pid \d+\) keeps serving$/);
    assert.equal(await answer(port), 'v2');
    assert.equal(runner.status().generation, 2);
  });

  it('adjusts each generation\'s command before it is spawned through a spawn hook that sees the generation before it', async () => {
    const file = join(dir, 'hooked.cjs');
    writeFileSync(file, app('hooked'));
    const port = await freePort();
    const yaml = `services:\n  app:\n    run: { cmd: "node {artifact}" }\n    listen: 127.0.0.1:${port}\n    handoff: proxy\n    health: { http: { path: / }, startTimeout: 20s }\n`;
    const [plan] = await planServices(parseConfigText(yaml, join(dir, 'airlock.yaml')).config, dir);
    const bus = new EventBus();
    const output: string[] = [];
    const seen: { n: number; previous: number | undefined }[] = [];
    bus.subscribe((event) => {
      if (event.type === 'process.output') output.push(event.line);
    });
    const ready = (n: number) =>
      new Promise<void>((resolve) => {
        bus.subscribe((event) => {
          if (event.type === 'reload.ready' && event.generation === n) resolve();
        });
      });
    const hooked = new ServiceRunner(plan!, bus, {
      source: () => new FakeSource([file, file]),
      spawnHooks: [
        (spawn, context) => {
          seen.push({ n: context.n, previous: context.previous?.n });
          // What a debugger does: wrap the command, add to its environment.
          return { ...spawn, command: `echo wrapped g${context.n} && ${spawn.command}`, env: { ...spawn.env, HOOKED: 'yes' } };
        },
      ],
    });
    after(() => hooked.stop());
    const first = ready(1);
    await hooked.start();
    await first;
    const second = ready(2);
    hooked.reload(['again']);
    await second;
    assert.deepEqual(seen, [{ n: 1, previous: undefined }, { n: 2, previous: 1 }]);
    assert.ok(output.includes('wrapped g1') && output.includes('wrapped g2'), output.join('\n'));
  });
});
