import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { AirlockRun, removeProject, tempProject, cleanupAfter } from './helpers.ts';

const IDLE = `node -e 'setInterval(() => {}, 1000)'`;

describe('restartWith: dependents that asked restart with their dependency', () => {
  const cleanup = cleanupAfter();

  it('restarts web (restartWith: [db]) when db has a new generation, and leaves other (dependsOn only) alone', async () => {
    const dir = tempProject();
    cleanup(() => removeProject(dir));
    writeFileSync(join(dir, 'db.txt'), 'v1');
    const service = (name: string, extra = '') => `  ${name}:\n    run: { cmd: "${IDLE}" }\n    watch: { include: ["${name}.txt"] }\n${extra}`;
    writeFileSync(
      join(dir, 'airlock.yaml'),
      `services:\n${service('db', '    build: { cmd: "cat db.txt" }\n')}${service('web', '    dependsOn: [db]\n    restartWith: [db]\n')}${service('other', '    dependsOn: [db]\n')}`,
    );
    const run = new AirlockRun(['dev', '--log-format', 'json'], dir);
    cleanup(() => run.kill());
    for (const name of ['db', 'web', 'other']) await run.waitForEvent('reload.ready', { service: name, generation: 1 }, 30_000, 0);
    assert.equal(run.events.filter((e) => e.type === 'process.started').length, 3, 'the first start of db restarts nobody');

    const since = run.events.length;
    writeFileSync(join(dir, 'db.txt'), 'v2');
    await run.waitForEvent('reload.ready', { service: 'db', generation: 2 }, 30_000, since);
    const web = await run.waitForEvent('reload.ready', { service: 'web', generation: 2 }, 30_000, since);
    assert.deepEqual(web.reason, ['db g2 is ready']);
    assert.equal(run.events.slice(since).filter((e) => e.type === 'build.started' && e.service === 'web').length, 0, 'same build');
    assert.equal(run.events.slice(since).filter((e) => e.service === 'other' && e.type === 'process.started').length, 0);
  });
});
