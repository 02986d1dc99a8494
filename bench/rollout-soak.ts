import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KeyedLoad } from '../scripts/keyed-load.ts';
import { CLI, Proc, ROOT, workDir } from './lib.ts';

/**
 * The rollout verdict under real load, many times (docs/rollout.md, "What happens at each
 * interval"): 16 keep-alive clients, a fresh random key space per round; a canary that
 * fails 3 % of requests against a 0 % stable must be aborted within two windows, and a
 * 0 % canary must be promoted. ROUNDS of each, alternating, in one airlock.
 */
const ROUNDS = 20;

export interface SoakFigures {
  readonly bad: { aborted: number; promoted: number; windows: number[] };
  readonly good: { aborted: number; promoted: number };
}

export async function rolloutSoak(port: number): Promise<SoakFigures> {
  const dir = workDir('rollout-soak');
  copyFileSync(join(ROOT, 'test', 'fixtures', 'canary-app.mjs'), join(dir, 'app.mjs'));
  const behave = (behaviour: object) => writeFileSync(join(dir, 'behaviour.json'), JSON.stringify(behaviour));
  behave({ version: 'v0' });
  writeFileSync(
    join(dir, 'airlock.yaml'),
    `services:\n  web:\n    build: { cmd: "cp behaviour.json {artifact}" }\n    run: { cmd: "node app.mjs {artifact}" }\n    watch: { include: [behaviour.json] }\n    listen: 127.0.0.1:${port}\n    health: { http: { path: /healthz } }\n    stop: { drain: 1s }\n    rollout: { strategy: canary, steps: [20, 100], interval: 1s, key: header:x-user-id, analysis: { minRequests: 50, maxErrorRate: 0.01 } }\n`,
  );
  const airlock = new Proc(process.execPath, [CLI, 'dev', '--log-format', 'json'], dir);
  const figures: SoakFigures = { bad: { aborted: 0, promoted: 0, windows: [] }, good: { aborted: 0, promoted: 0 } };
  try {
    await airlock.waitFor(/"type":"reload.ready"/);
    for (let round = 0; round < ROUNDS; round++) {
      for (const bad of [true, false]) {
        const load = new KeyedLoad(port, { users: 2_000, clients: 16, header: 'x-user-id' });
        const since = airlock.lines.length;
        behave({ version: `r${round}${bad ? 'bad' : 'good'}`, ...(bad ? { errorEvery: 33 } : {}) });
        const end = await airlock.waitFor(/"type":"rollout\.(aborted|promoted)"/, 120_000, since);
        await load.stop();
        const aborted = end.includes('"rollout.aborted"');
        const side = bad ? figures.bad : figures.good;
        if (aborted) side.aborted += 1;
        else side.promoted += 1;
        if (bad) figures.bad.windows.push(airlock.lines.slice(since).filter((line) => /"type":"rollout\.(step|held|aborted)"/.test(line) && line.includes('"window"')).length);
        // A promoted canary is the next stable one; after an abort the stable one serves on.
        await airlock.waitFor(/"type":"generation\.drained"/, 60_000, since);
      }
    }
  } finally {
    await airlock.stop();
  }
  return figures;
}

export function soakTable(f: SoakFigures): string {
  const within2 = f.bad.windows.filter((n) => n <= 2).length;
  return [
    '### Rollout verdicts under load (bench/rollout-soak.ts, `npm run bench -- soak`)',
    '',
    `${ROUNDS} rounds of each, 16 keep-alive clients, 2,000 keys, steps [20, 100], 1 s windows, minRequests 50, maxErrorRate 1 %.`,
    '',
    '| canary | aborted | promoted | aborted within two windows |',
    '| --- | --- | --- | --- |',
    `| 3 % errors, stable 0 % | ${f.bad.aborted} | ${f.bad.promoted} | ${within2} of ${f.bad.windows.length} |`,
    `| 0 % errors, stable 0 % | ${f.good.aborted} | ${f.good.promoted} | — |`,
  ].join('\n');
}
