import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { AirlockRun, cleanupAfter, removeProject, tempProject } from './helpers.ts';

/**
 * Templates and static files a service reads at start need a new generation, not a new
 * build (fresh's no_rebuild_ext, air's build rules); and the build and run commands are
 * told what changed (watchexec's WATCHEXEC_*_PATH).
 */
describe('watch.restartOnly and AIRLOCK_CHANGED_PATHS', () => {
  const cleanup = cleanupAfter();

  it('starts the current build again for a template, builds for a source, and tells both commands what changed', async () => {
    const dir = tempProject();
    cleanup(() => removeProject(dir));
    mkdirSync(join(dir, 'src'));
    mkdirSync(join(dir, 'templates'));
    writeFileSync(join(dir, 'src', 'a.txt'), 'one');
    writeFileSync(join(dir, 'templates', 'page.html'), '<p>one</p>');
    writeFileSync(
      join(dir, 'airlock.yaml'),
      [
        'services:',
        '  app:',
        // The build records what it was told, outside the watched globs.
        `    build: { cmd: 'printf "%s|%s\\n" "$AIRLOCK_GENERATION" "$AIRLOCK_CHANGED_PATHS" >> builds.log' }`,
        `    run: { cmd: 'echo "g$AIRLOCK_GENERATION saw [$AIRLOCK_CHANGED_PATHS] of $AIRLOCK_CHANGED_COUNT"; exec sleep 600' }`,
        "    watch: { include: ['src/**'], restartOnly: ['templates/**'], debounce: 20ms }",
        '',
      ].join('\n'),
    );
    const run = new AirlockRun(['dev', '--log-format', 'json'], dir);
    cleanup(() => run.kill());
    await run.waitForLine(/g1 saw \[\] of /, 60_000, 0);
    await run.waitForEvent('watch.started', {}, 30_000, 0);

    let since = run.events.length;
    writeFileSync(join(dir, 'src', 'a.txt'), 'two');
    await run.waitForLine(/g2 saw \[src\/a\.txt\] of 1/, 60_000);
    assert.ok(run.events.slice(since).some((e) => e.type === 'build.started' && e.generation === 2), 'a source change builds');

    since = run.events.length;
    writeFileSync(join(dir, 'templates', 'page.html'), '<p>two</p>');
    const detected = await run.waitForEvent('change.detected', {}, 30_000, since);
    assert.deepEqual(detected.paths, ['templates/page.html']);
    assert.equal(detected.restartOnly, true);
    await run.waitForLine(/g3 saw \[templates\/page\.html\] of 1/, 60_000);
    await run.waitForEvent('reload.ready', { generation: 3 }, 30_000, since);
    assert.ok(!run.events.slice(since).some((e) => e.type === 'build.started'), 'a template change starts the current build again, without building');
    const builds = readFileSync(join(dir, 'builds.log'), 'utf8').trim().split('\n');
    assert.deepEqual(builds, ['1|', '2|src/a.txt'], 'the build ran at start and for the source only, and was told what changed');
    await run.interrupt();
  });
});
