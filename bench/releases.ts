import { execFileSync } from 'node:child_process';
import { copyFileSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ReleaseChannel } from '../packages/airlock/src/release/channel.ts';
import { CLI, fmt, median, pollUntil, Proc, workDir } from './lib.ts';

/**
 * Signed releases (docs/releases.md): publish → the agent serving it, for examples/go-hello
 * built once per version, through the proxy and its /healthz gate. Two agents in turn on
 * one channel: one that finds releases by polling every second, one that never polls and is
 * told by `airlock reload` right after the publish (what is left with the poll removed).
 * Beside it, what tuf-js verification costs per release: a refresh and download by a client
 * that has seen the channel before, and by a fresh one given only the first root.
 */
const RELEASES = 5;

export interface ReleaseFigures {
  readonly publishMs: number[];
  readonly polledMs: number[];
  readonly toldMs: number[];
  readonly warmVerifyMs: number[];
  readonly freshVerifyMs: number[];
  readonly bytes: number;
}

function buildVersions(dir: string): string[] {
  const main = join(dir, 'main.go');
  const source = readFileSync(main, 'utf8');
  const binaries: string[] = [];
  for (let v = 1; v <= RELEASES * 2 + 1; v++) {
    writeFileSync(main, source.replace(/const greeting = ".*"/, `const greeting = "release ${v}"`));
    execFileSync('go', ['build', '-o', join(dir, `hello-${v}`), '.'], { cwd: dir });
    binaries.push(join(dir, `hello-${v}`));
  }
  return binaries;
}

async function agent(dir: string, port: number, poll: string, versions: readonly number[], binaries: readonly string[], figures: ReleaseFigures, tell: boolean): Promise<number[]> {
  writeFileSync(
    join(dir, 'airlock.yaml'),
    `services:\n  hello:\n    run: { cmd: "{artifact}" }\n    listen: 127.0.0.1:${port}\n    health: { http: { path: /healthz }, interval: 50ms }\n    stop: { drain: 1s }\n    release: { from: channel, channel: stable, trust: keys/1.root.json, poll: ${poll} }\n`,
  );
  rmSync(join(dir, '.airlock'), { recursive: true, force: true });
  const airlock = new Proc(process.execPath, [CLI, 'agent', '--log-format', 'json'], dir);
  const times: number[] = [];
  try {
    await pollUntil(port, `release ${versions[0] as number - 1}`);
    for (const v of versions) {
      copyFileSync(binaries[v - 1] as string, join(dir, 'hello'));
      const started = performance.now();
      execFileSync(process.execPath, [CLI, 'release', 'publish', 'channel', 'hello', '--keys', 'keys', '--service', 'hello', '--channel', 'stable', '--version', String(v)], { cwd: dir });
      const published = performance.now();
      figures.publishMs.push(published - started);
      // Told: measured from when `airlock reload` was answered, so the CLI's own start is not counted.
      if (tell) execFileSync(process.execPath, [CLI, 'reload', 'hello'], { cwd: dir });
      const from = tell ? performance.now() : published;
      times.push((await pollUntil(port, `release ${v} `)) - from);
    }
  } finally {
    await airlock.stop();
  }
  return times;
}

export async function releaseTimes(port: number): Promise<ReleaseFigures> {
  const dir = workDir('releases', 'go-hello');
  const binaries = buildVersions(dir);
  execFileSync(process.execPath, [CLI, 'release', 'init', 'channel', '--keys', 'keys'], { cwd: dir });
  copyFileSync(binaries[0] as string, join(dir, 'hello'));
  execFileSync(process.execPath, [CLI, 'release', 'publish', 'channel', 'hello', '--keys', 'keys', '--service', 'hello', '--channel', 'stable', '--version', '1'], { cwd: dir });
  const figures: ReleaseFigures = { publishMs: [], polledMs: [], toldMs: [], warmVerifyMs: [], freshVerifyMs: [], bytes: readFileSync(binaries[0] as string).length };
  const polled = Array.from({ length: RELEASES }, (_, i) => i + 2);
  const told = Array.from({ length: RELEASES }, (_, i) => i + 2 + RELEASES);
  figures.polledMs.push(...(await agent(dir, port, '1s', polled, binaries, figures, false)));
  figures.toldMs.push(...(await agent(dir, port, '596h', told, binaries, figures, true)));

  const trust = join(dir, 'keys', '1.root.json');
  const warm = new ReleaseChannel({ from: join(dir, 'channel'), trust, cacheDir: join(dir, 'warm') });
  await warm.releases('hello', 'stable');
  for (let i = 0; i < 10; i++) {
    for (const [channel, into] of [
      [warm, figures.warmVerifyMs],
      [new ReleaseChannel({ from: join(dir, 'channel'), trust, cacheDir: join(dir, `fresh-${i}`) }), figures.freshVerifyMs],
    ] as const) {
      const started = performance.now();
      const [newest] = await channel.releases('hello', 'stable');
      await channel.download(newest!, join(dir, `verify-${i}`));
      into.push(performance.now() - started);
    }
  }
  return figures;
}

export function releaseTable(f: ReleaseFigures): string {
  return [
    `### Signed releases (bench/releases.ts, \`npm run bench -- releases\`)`,
    '',
    `examples/go-hello (${(f.bytes / 2 ** 20).toFixed(1)} MiB binary), ${RELEASES} releases per row, medians in ms; "served" is from the end of \`airlock release publish\` until GET / answers the new text through the proxy.`,
    '',
    '| step | median | min | max |',
    '| --- | --- | --- | --- |',
    ...(
      [
        ['`airlock release publish` (sign targets, snapshot, timestamp; CLI start included)', f.publishMs],
        ['publish → served, agent polling every 1 s', f.polledMs],
        ['poll removed: `airlock reload` answered → served (refresh, verify, download, start, gate, swap)', f.toldMs],
        ['verify + download, client that saw the channel before', f.warmVerifyMs],
        ['verify + download, fresh client given only the first root', f.freshVerifyMs],
      ] as const
    ).map(([what, ms]) => `| ${what} | ${fmt(median(ms))} | ${fmt(Math.min(...ms))} | ${fmt(Math.max(...ms))} |`),
  ].join('\n');
}
