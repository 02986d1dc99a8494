// `npm run demo:release`: signed releases end to end on one machine. Builds
// examples/go-hello twice (two greetings), publishes both to a release channel in a temp
// directory, and runs `airlock agent`, which applies v1, then v2 when it is published,
// through the proxy and its health gate. Everything it makes is removed at the end.
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { copyExample } from './copy-example.ts';
import { getOnce } from './http-load.ts';

const ROOT = new URL('..', import.meta.url).pathname;
const CLI = join(ROOT, 'packages', 'airlock', 'dist', 'cli', 'main.js');
const dir = mkdtempSync(join(tmpdir(), 'airlock-demo-release-'));
const say = (line: string) => process.stdout.write(`demo: ${line}\n`);

function run(cmd: string, args: string[], cwd = dir): void {
  const done = spawnSync(cmd, args, { cwd, encoding: 'utf8' });
  if (done.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed:\n${done.stdout}${done.stderr}`);
  if (done.stdout.trim()) process.stdout.write(done.stdout.replace(/^/gm, '  '));
}

/** go-hello built with a greeting of its own, as CI would build a release. */
function build(version: number): string {
  const src = join(dir, `src-${version}`);
  copyExample('go-hello', src);
  const main = join(src, 'main.go');
  writeFileSync(main, readFileSync(main, 'utf8').replace(/const greeting = ".*"/, `const greeting = "hello from release ${version}"`));
  run('go', ['build', '-o', join(dir, `hello-${version}`), '.'], src);
  return join(dir, `hello-${version}`);
}

async function until(port: number, text: string): Promise<string> {
  for (let i = 0; i < 600; i++) {
    const body = await getOnce(port);
    if (body?.includes(text)) return body.trim();
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`never saw "${text}" on port ${port}`);
}

const port = 18_090;
let agent: ReturnType<typeof spawn> | undefined;
try {
  say(`working in ${dir}`);
  say('airlock release init channel --keys keys');
  run(process.execPath, [CLI, 'release', 'init', 'channel', '--keys', 'keys']);
  const v1 = build(1);
  const v2 = build(2);
  copyFileSync(v1, join(dir, 'hello'));
  say('airlock release publish channel hello --service hello --channel stable --version 1');
  run(process.execPath, [CLI, 'release', 'publish', 'channel', 'hello', '--keys', 'keys', '--service', 'hello', '--channel', 'stable', '--version', '1']);
  writeFileSync(
    join(dir, 'airlock.yaml'),
    `services:\n  hello:\n    run: { cmd: "{artifact}" }\n    listen: 127.0.0.1:${port}\n    health: { http: { path: /healthz } }\n    release: { from: channel, channel: stable, trust: keys/1.root.json, poll: 1s }\n`,
  );
  say('airlock agent (follows the channel)');
  agent = spawn(process.execPath, [CLI, 'agent'], { cwd: dir, stdio: ['ignore', 'inherit', 'inherit'] });
  say(`GET 127.0.0.1:${port} → ${await until(port, 'release 1')}`);
  copyFileSync(v2, join(dir, 'hello'));
  say('airlock release publish channel hello --service hello --channel stable --version 2');
  run(process.execPath, [CLI, 'release', 'publish', 'channel', 'hello', '--keys', 'keys', '--service', 'hello', '--channel', 'stable', '--version', '2']);
  say(`GET 127.0.0.1:${port} → ${await until(port, 'release 2')}`);
  say('done: v2 verified by tuf-js, started beside v1, gated on /healthz, swapped in; stopping');
} finally {
  if (agent && agent.exitCode === null) {
    agent.kill('SIGINT');
    await new Promise((r) => agent?.once('exit', r));
  }
  rmSync(dir, { recursive: true, force: true });
}
