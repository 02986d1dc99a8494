import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Load } from '../../scripts/http-load.ts';
import { AirlockRun, cleanupAfter, exampleOnFreePort } from './helpers.ts';

describe('examples/node-config: app config by signal, env file by restart', () => {
  const cleanup = cleanupAfter();

  it('serves valid config edits from the same process, refuses an invalid one, restarts for .env, and never for a config or schema save', async () => {
    const { dir, port } = await exampleOnFreePort('node-config', '127.0.0.1:3001', cleanup);
    const run = new AirlockRun(['dev', '--log-format', 'json'], dir);
    cleanup(() => run.kill());
    await run.waitForEvent('reload.ready', { generation: 1 }, 30_000, 0);
    const load = new Load(port, 2);
    cleanup(() => load.stop());
    await load.until('hello, world');

    let since = run.events.length;
    writeFileSync(join(dir, 'config.yaml'), 'greeting: hi\nexcited: true\n');
    await load.until('hi, world!');
    writeFileSync(join(dir, 'config.yaml'), 'greeting: hi\nexcited: maybe\n');
    const rejected = await run.waitForEvent('config.rejected', {}, 30_000, since);
    assert.equal(`${rejected.file}:${rejected.line}`, 'config.yaml:2');
    // A schema edit (a *.json file, which the Node preset watches) is checked, not restarted for.
    const schema = join(dir, 'config.schema.json');
    writeFileSync(schema, readFileSync(schema, 'utf8').replace('"excited": { "type": "boolean" }', '"excited": { "type": ["boolean", "string"] }'));
    await run.waitForEvent('config.accepted', { file: 'config.schema.json' }, 30_000, since);
    await load.until('hi, world!');
    assert.equal(run.events.slice(since).filter((e) => e.type === 'process.started').length, 0, 'same process throughout');

    since = run.events.length;
    writeFileSync(join(dir, '.env'), 'AUDIENCE=everyone\n');
    await load.until('hi, everyone!');
    assert.equal(run.events.slice(since).filter((e) => e.type === 'process.started').length, 1, 'one new generation for the env file');
    await load.stop();
    assert.deepEqual(load.failures, []);
  });
});
