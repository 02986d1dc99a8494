import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Client, credentials } from '@grpc/grpc-js';
import { AirlockRun, freePort, removeProject, ROOT, tempProject, cleanupAfter } from './helpers.ts';

const APP = join(ROOT, 'test', 'fixtures', 'grpc-app.mjs');
const json = {
  serialize: (value: unknown) => Buffer.from(JSON.stringify(value)),
  deserialize: (bytes: Buffer) => JSON.parse(bytes.toString() || '{}') as { n: number; generation: string },
};

describe('gRPC behind tcp-proxy', () => {
  const cleanup = cleanupAfter();

  async function start(env: string) {
    const dir = tempProject();
    const port = await freePort();
    writeFileSync(
      join(dir, 'airlock.yaml'),
      `services:\n  grpc:\n    run: { cmd: node ${APP}, env: { GRPC_HEALTH: ${env} } }\n    listen: ${port}\n    handoff: tcp-proxy\n    health: { grpc: {}, startTimeout: 3s }\n`,
    );
    const run = new AirlockRun(['run', '--log-format', 'json'], dir);
    cleanup(() => run.kill(), () => removeProject(dir));
    return { dir, port, run };
  }

  it('is ready only when grpc.health.v1 answers SERVING', async () => {
    const { run } = await start('NOT_SERVING');
    const failed = await run.waitForEvent('reload.failed', {}, 30_000);
    assert.equal(failed.code, 'AIRLOCK_ERR_HEALTH_FAILED');
    assert.match(String(failed.message), /grpc health "": NOT_SERVING/);
    await run.interrupt();
  });

  it('keeps a streaming call on the old generation across a swap, and sends new calls to the new one', async () => {
    const { port, run } = await start('SERVING');
    await run.waitForEvent('reload.ready', { generation: 1 }, 30_000);
    const client = new Client(`127.0.0.1:${port}`, credentials.createInsecure());
    cleanup(() => client.close());
    const messages: { n: number; generation: string }[] = [];
    const stream = client.makeServerStreamRequest('/test.Counter/Count', json.serialize, json.deserialize, {});
    const ended = new Promise<void>((resolve, reject) => {
      stream.on('data', (message: { n: number; generation: string }) => messages.push(message));
      stream.on('end', resolve);
      stream.on('error', reject);
    });
    while (messages.length < 3) await new Promise((r) => setTimeout(r, 20));
    run.child.kill('SIGHUP');
    await run.waitForEvent('reload.ready', { generation: 2 }, 30_000);

    // A new connection (new client) lands on generation 2.
    const fresh = new Client(`127.0.0.1:${port}`, credentials.createInsecure());
    cleanup(() => fresh.close());
    const first = await new Promise<{ generation: string }>((resolve, reject) => {
      const call = fresh.makeServerStreamRequest('/test.Counter/Count', json.serialize, json.deserialize, {});
      call.once('data', (message: { generation: string }) => {
        resolve(message);
        call.cancel();
      });
      call.once('error', reject);
    });
    assert.equal(first.generation, '2');

    await ended;
    assert.equal(messages.length, 30, 'the stream was not cut');
    assert.ok(messages.every((message) => message.generation === '1'));
    await run.interrupt();
  });
});
