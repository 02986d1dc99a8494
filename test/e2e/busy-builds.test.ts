import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { AirlockRun, removeProject, tempProject } from './helpers.ts';

/**
 * Saves that come faster than the build: an editor's auto-save every second on a service
 * whose build takes longer. "The newest change wins" must not mean "nothing ever ships":
 * a build that has run for half its usual time finishes while the newer change waits.
 */
describe('saves faster than the build', () => {
  let dir: string;
  let run: AirlockRun;
  after(() => {
    run?.kill();
    if (dir) removeProject(dir);
  });

  it('ships builds while the saves go on, and the newest save last', async () => {
    dir = tempProject();
    writeFileSync(join(dir, 'version.txt'), 'v0\n');
    // A build of 1.2 s (sleep: the same on a busy machine), saves every 0.6 s.
    run = new AirlockRun(
      ['dev', '--build', 'sleep 1.2 && cp version.txt built.txt', '--run', 'cat built.txt', '--watch', 'version.txt', '--log-format', 'json'],
      dir,
    );
    await run.waitForEvent('reload.ready', {}, 60_000, 0);
    await run.waitForEvent('watch.started', {}, 30_000, 0);
    const since = run.events.length;
    const saves = 10;
    for (let i = 1; i <= saves; i++) {
      writeFileSync(join(dir, 'version.txt'), `v${i}\n`);
      await sleep(600);
    }
    const duringSaves = run.events.slice(since).filter((e) => e.type === 'reload.ready').length;
    assert.ok(duringSaves >= 2, `reloads completed while saves came every 0.6 s: ${duringSaves}\n${run.output()}`);
    await run.waitForLine(new RegExp(`"line":"v${saves}"`), 30_000, 0);
    const kept = run.events.slice(since).filter((e) => e.type === 'notice' && /build goes on/.test(String(e.message)));
    assert.ok(kept.length > 0, 'says when a build is let finish');
  });
});
