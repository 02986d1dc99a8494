import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, Proc, goHello, pollUntil } from './lib.ts';
import { readStat } from '../packages/airlock/src/supervise/proc.ts';

/**
 * `npm run bench -- proxy` (issue #28's table): the HTTP hop of airlock's proxy against
 * nginx and HAProxy in front of the same small Go app, in one run: wrk -t2 -c32, rounds
 * of 4 s interleaved (the machine is shared: a slow moment hits every path alike), then
 * one request at a time for the added latency. nginx-light, haproxy and wrk come from
 * Debian (installed here when missing). Then airlock's proxy again under node --cpu-prof:
 * the top frames by self time, to know where its time goes before changing it.
 */
const ROUNDS = 3;
const ROUND_SECONDS = 4;

function ensureTools(): void {
  const missing = [['wrk', 'wrk'], ['nginx', 'nginx-light'], ['haproxy', 'haproxy']].filter(([tool]) => {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
      return false;
    } catch {
      return true;
    }
  });
  if (missing.length === 0) return;
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit' });
  execFileSync('apt-get', ['install', '-y', '-qq', ...missing.map(([, pkg]) => pkg as string)], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
}

function wrk(port: number, threads: number, connections: number, seconds: number): { rps: number; requests: number; p50Ms: number } {
  const out = execFileSync('wrk', ['-t', String(threads), '-c', String(connections), '-d', `${seconds}s`, '--latency', `http://127.0.0.1:${port}/`], { encoding: 'utf8' });
  const p50 = /\s50%\s+([\d.]+)(us|ms|s)/.exec(out);
  const value = Number(p50?.[1]);
  return {
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]),
    requests: Number(/(\d+) requests in/.exec(out)?.[1]),
    p50Ms: p50?.[2] === 'us' ? value / 1000 : p50?.[2] === 's' ? value * 1000 : value,
  };
}

/** Clock ticks per second of /proc/PID/stat's utime and stime. */
const TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/** CPU seconds in user space and in the kernel (on the process's behalf: its syscalls). */
interface CpuSeconds {
  readonly user: number;
  readonly system: number;
}

/**
 * CPU seconds used so far by the processes of one process group (a proxy and its
 * workers), leaving out those whose command line contains `exclude` (airlock's app).
 */
function groupCpuSeconds(pgid: number, exclude?: string): CpuSeconds {
  let user = 0;
  let system = 0;
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = readStat(Number(name));
    if (stat?.pgrp !== pgid) continue;
    try {
      if (exclude !== undefined && readFileSync(`/proc/${name}/cmdline`, 'utf8').includes(exclude)) continue;
    } catch {
      continue; // gone meanwhile
    }
    user += stat.userTicks;
    system += stat.systemTicks;
  }
  return { user: user / TICKS, system: system / TICKS };
}

interface Path {
  readonly name: string;
  readonly port: number;
  /** The proxy's CPU seconds so far (all its processes); undefined for direct. */
  readonly cpu?: () => CpuSeconds;
  stop(): Promise<void>;
}

/** A server started in its own process group, ended with all of it (nginx's workers outlive a killed master). */
function daemon(name: string, port: number, child: ChildProcess): Path & { pid: number } {
  return {
    name,
    port,
    pid: child.pid as number,
    cpu: () => groupCpuSeconds(child.pid as number),
    stop: async () => {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      try {
        process.kill(-(child.pid as number), 'SIGKILL');
      } catch {
        // already gone
      }
      await exited;
    },
  };
}

async function nginx(dir: string, port: number, upstream: number): Promise<Path> {
  const conf = join(dir, 'nginx.conf');
  writeFileSync(
    conf,
    `worker_processes 1;\npid ${dir}/nginx.pid;\nerror_log ${dir}/nginx.error.log;\nevents { worker_connections 4096; }\nhttp {\n  access_log off;\n  upstream app { server 127.0.0.1:${upstream}; keepalive 64; }\n  server {\n    listen 127.0.0.1:${port};\n    location / { proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection ""; }\n  }\n}\n`,
  );
  const child = spawn('nginx', ['-c', conf, '-p', dir, '-g', 'daemon off;'], { stdio: 'ignore', detached: true });
  await pollUntil(port, 'hello');
  return daemon('nginx 1.22, 1 worker, keepalive upstream', port, child);
}

/** HAProxy in one thread in front of 127.0.0.1:upstream, keeping connections both ways; `idle` is how long a quiet one stays open. */
function haproxyConfig(port: number, upstream: number, { maxconn = 4096, idle = '30s' }: HaproxySettings = {}): string {
  return `global\n  nbthread 1\n  maxconn ${maxconn}\ndefaults\n  mode http\n  maxconn ${maxconn}\n  timeout connect 5s\n  timeout client ${idle}\n  timeout server ${idle}\n  timeout http-keep-alive ${idle}\n  option http-keep-alive\nfrontend f\n  bind 127.0.0.1:${port}\n  default_backend b\nbackend b\n  http-reuse always\n  server app 127.0.0.1:${upstream}\n`;
}

interface HaproxySettings {
  readonly maxconn?: number;
  readonly idle?: string;
}

/** HAProxy (one thread) on `port` in front of the app on `upstream`, serving once this resolves. */
export async function haproxy(dir: string, port: number, upstream: number, settings: HaproxySettings = {}): Promise<Path & { pid: number }> {
  const cfg = join(dir, 'haproxy.cfg');
  writeFileSync(cfg, haproxyConfig(port, upstream, settings));
  const child = spawn('haproxy', ['-f', cfg, '-db'], { stdio: 'ignore', detached: true });
  await pollUntil(port, 'hello');
  return daemon('HAProxy 2.6, 1 thread', port, child);
}

/** Proxy processes per airlock proxy row: 1 (airlock's own), then workers sharing the socket. */
const WORKERS = [1, 2, 4] as const;

/** `airlock run` serving the app at `app` on `port` through the given handoff, once its first generation is ready. */
export async function airlock(dir: string, port: number, app: string, handoff: 'proxy' | 'tcp-proxy', { nodeArgs = [], workers = 1 }: { nodeArgs?: readonly string[]; workers?: number } = {}): Promise<Path & { proc: Proc }> {
  const serviceDir = join(dir, `${handoff}-${workers}`);
  execFileSync('mkdir', ['-p', serviceDir]);
  writeFileSync(
    join(serviceDir, 'airlock.yaml'),
    `services:\n  hello:\n    run: { cmd: ${app} }\n    listen: 127.0.0.1:${port}\n    handoff: ${handoff}\n    proxy: { workers: ${workers} }\n    health: { http: { path: /healthz } }\n`,
  );
  const proc = new Proc(process.execPath, [...nodeArgs, CLI, 'run', '--log-format', 'json'], serviceDir);
  await proc.waitFor(/"type":"reload\.ready"/);
  const name = handoff === 'proxy' || workers > 1 ? `airlock ${handoff}, ${workers} process${workers === 1 ? '' : 'es'}` : `airlock ${handoff}`;
  return { name, port, proc, cpu: () => groupCpuSeconds(proc.child.pid as number, app), stop: () => proc.stop() };
}

export interface ProxyBench {
  /** cpuUs: the proxy's CPU time per request over the rounds, all its processes together, in user space and in the kernel. */
  readonly rows: readonly { readonly name: string; readonly rps: readonly number[]; readonly p50Ms: number; readonly cpuUs: { readonly user: number; readonly system: number } | undefined }[];
  readonly profile: readonly { readonly frame: string; readonly selfPercent: number }[];
}

/** Self time per function of a .cpuprofile, as a share of all samples. */
function topFrames(file: string, count: number): { frame: string; selfPercent: number }[] {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as { nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[]; samples: number[] };
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const self = new Map<string, number>();
  for (const id of profile.samples) {
    const frame = byId.get(id)?.callFrame;
    if (frame === undefined) continue;
    const where = frame.url === '' ? '' : ` (${frame.url.replace(/^.*\/(node_modules\/|packages\/airlock\/dist\/|node:)/, '$1')}:${frame.lineNumber + 1})`;
    const key = `${frame.functionName || '(anonymous)'}${where}`;
    self.set(key, (self.get(key) ?? 0) + 1);
  }
  const total = profile.samples.length;
  return [...self].sort((a, b) => b[1] - a[1]).slice(0, count).map(([frame, n]) => ({ frame, selfPercent: (100 * n) / total }));
}

export async function proxyBench(basePort: number): Promise<ProxyBench> {
  ensureTools();
  const { dir, app, child: upstream } = await goHello('proxy', basePort);
  const paths: Path[] = [];
  try {
    paths.push({ name: 'direct', port: basePort, stop: async () => undefined });
    paths.push(await nginx(dir, basePort + 1, basePort));
    paths.push(await haproxy(dir, basePort + 2, basePort));
    // airlock runs its own generation of the same binary behind its proxy.
    for (const [i, workers] of WORKERS.entries()) paths.push(await airlock(dir, basePort + 10 + i, app, 'proxy', { workers }));
    paths.push(await airlock(dir, basePort + 4, app, 'tcp-proxy'));
    paths.push(await airlock(dir, basePort + 6, app, 'tcp-proxy', { workers: 2 }));
    for (const path of paths) wrk(path.port, 2, 32, 1); // warm-up: pools, JIT
    const rps = new Map(paths.map((path) => [path.name, [] as number[]]));
    const cost = new Map(paths.map((path) => [path.name, { user: 0, system: 0, requests: 0 }]));
    const none: CpuSeconds = { user: 0, system: 0 };
    for (let round = 0; round < ROUNDS; round++) {
      for (const path of paths) {
        const before = path.cpu?.() ?? none;
        const result = wrk(path.port, 2, 32, ROUND_SECONDS);
        const after = path.cpu?.() ?? none;
        const spent = cost.get(path.name) as { user: number; system: number; requests: number };
        spent.user += after.user - before.user;
        spent.system += after.system - before.system;
        spent.requests += result.requests;
        rps.get(path.name)?.push(result.rps);
      }
    }
    const rows = paths.map((path) => {
      const spent = cost.get(path.name) as { user: number; system: number; requests: number };
      const perRequest = (seconds: number) => (seconds / spent.requests) * 1e6;
      return { name: path.name, rps: rps.get(path.name) ?? [], p50Ms: wrk(path.port, 1, 1, 3).p50Ms, cpuUs: path.cpu === undefined ? undefined : { user: perRequest(spent.user), system: perRequest(spent.system) } };
    });
    for (const path of paths.splice(1)) await path.stop();

    // The proxy again, profiled under the same load.
    const profileDir = join(dir, 'profile');
    const profiled = await airlock(dir, basePort + 5, app, 'proxy', { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] });
    wrk(profiled.port, 2, 32, 5);
    await profiled.stop();
    const file = readdirSync(profileDir).find((name) => name.endsWith('.cpuprofile'));
    return { rows, profile: file ? topFrames(join(profileDir, file), 15) : [] };
  } finally {
    for (const path of paths) await path.stop();
    upstream.kill('SIGKILL');
  }
}

export function proxyTable({ rows, profile }: ProxyBench): string {
  const direct = rows[0];
  const mean = (values: readonly number[]) => values.reduce((a, b) => a + b, 0) / Math.max(1, values.length);
  return [
    `The HTTP hop, GET / on examples/go-hello: wrk -t2 -c32, ${ROUNDS} rounds of ${ROUND_SECONDS} s interleaved; p50 with one request at a time (wrk -t1 -c1, 3 s). wrk, proxy and app share the machine:`,
    '',
    '| path | req/s (rounds) | × direct | p50, one at a time | added p50 | proxy CPU per request | of it in user space | in the kernel |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows.map(
      (r) =>
        `| ${r.name} | ${r.rps.map((n) => n.toFixed(0)).join(' / ')} | ${(mean(r.rps) / mean(direct?.rps ?? [1])).toFixed(2)} | ${(r.p50Ms * 1000).toFixed(0)} µs | ${((r.p50Ms - (direct?.p50Ms ?? 0)) * 1000).toFixed(0)} µs | ${r.cpuUs === undefined ? '- | - | -' : `${(r.cpuUs.user + r.cpuUs.system).toFixed(0)} µs | ${r.cpuUs.user.toFixed(0)} µs | ${r.cpuUs.system.toFixed(0)} µs`} |`,
    ),
    '',
    'airlock proxy under the same load, `node --cpu-prof`: top frames by self time (share of all samples):',
    '',
    '| frame | self |',
    '| --- | --- |',
    ...profile.map((p) => `| \`${p.frame}\` | ${p.selfPercent.toFixed(1)} % |`),
  ].join('\n');
}
