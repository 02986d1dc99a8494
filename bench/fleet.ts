import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, fmt, median, Proc, workDir } from './lib.ts';

/**
 * A fleet on NATS JetStream (docs/fleet.md): one nats-server, N `airlock agent` processes
 * on this machine (each with its own host id and a tiny Node app on its own port),
 * following one channel in a nats:// repository. Per release: from the end of
 * `airlock release publish` until every agent said `release.applied` (the new release
 * passed its gate and takes traffic), and what NATS carried for it, per agent, from the
 * server's own per-connection counters (/connz), less the heartbeats' steady rate
 * measured in a quiet window beforehand.
 */
const RELEASES = 5;

export interface FleetFigures {
  readonly agents: number;
  /** publish end → first and last agent serving, per release. */
  readonly firstMs: number[];
  readonly lastMs: number[];
  /** Per release per agent, heartbeats taken out: messages and bytes to the agent, from it. */
  readonly outMsgs: number[];
  readonly outBytes: number[];
  readonly inMsgs: number[];
  readonly inBytes: number[];
  /** Heartbeats: per agent per second, both directions. */
  readonly idleMsgsPerS: number;
  readonly idleBytesPerS: number;
}

interface Counters {
  readonly inMsgs: number;
  readonly outMsgs: number;
  readonly inBytes: number;
  readonly outBytes: number;
}

/** The server's counters for each open client connection, by cid. */
async function connections(monitor: number): Promise<Map<number, Counters>> {
  const response = await fetch(`http://127.0.0.1:${monitor}/connz?limit=4096`);
  const body = (await response.json()) as { connections: { cid: number; in_msgs: number; out_msgs: number; in_bytes: number; out_bytes: number }[] };
  return new Map(body.connections.map((c) => [c.cid, { inMsgs: c.in_msgs, outMsgs: c.out_msgs, inBytes: c.in_bytes, outBytes: c.out_bytes }]));
}

/** What the connections open at both moments carried in between (the publisher's own, gone by then, is not counted). */
function delta(before: Map<number, Counters>, after: Map<number, Counters>): Counters {
  const sum = { inMsgs: 0, outMsgs: 0, inBytes: 0, outBytes: 0 };
  for (const [cid, end] of after) {
    const start = before.get(cid);
    if (start === undefined) continue;
    sum.inMsgs += end.inMsgs - start.inMsgs;
    sum.outMsgs += end.outMsgs - start.outMsgs;
    sum.inBytes += end.inBytes - start.inBytes;
    sum.outBytes += end.outBytes - start.outBytes;
  }
  return sum;
}

function app(version: number): string {
  // The store's file has no extension and bench/.work sits under a "type": "module" package: import() runs as either.
  return `import('node:http').then(({ createServer }) => createServer((req, res) => res.end('v${version}')).listen(Number(process.env.PORT), '127.0.0.1'));\nprocess.on('SIGTERM', () => process.exit(0));\n`;
}

const applied = (version: number) => new RegExp(`^(?=.*"type":"release\\.applied")(?=.*"version":${version}[,}])`);

export async function fleetRun(agents: number, basePort: number): Promise<FleetFigures> {
  const dir = workDir(`fleet-${agents}`);
  const natsPort = basePort;
  const monitor = basePort + 1;
  const procs: Proc[] = [];
  const nats = new Proc('nats-server', ['-js', '-a', '127.0.0.1', '-p', String(natsPort), '-m', String(monitor), '-sd', join(dir, 'nats')], dir);
  try {
    await nats.waitFor(/Server is ready/, 30_000, 0);
    const repo = `nats://127.0.0.1:${natsPort}/bench`;
    const publisher = join(dir, 'publisher');
    mkdirSync(publisher);
    const publish = (version: number) => {
      writeFileSync(join(publisher, 'app.cjs'), app(version));
      execFileSync(process.execPath, [CLI, 'release', 'publish', repo, 'app.cjs', '--keys', 'keys', '--service', 'web', '--channel', 'stable', '--version', String(version)], { cwd: publisher });
    };
    execFileSync(process.execPath, [CLI, 'release', 'init', repo, '--keys', 'keys'], { cwd: publisher });
    publish(1);
    for (let i = 0; i < agents; i++) {
      const home = join(dir, `host-${i}`);
      mkdirSync(home);
      copyFileSync(join(publisher, 'keys', '1.root.json'), join(home, 'root.json'));
      writeFileSync(
        join(home, 'airlock.yaml'),
        `services:\n  web:\n    run: { cmd: "node {artifact}" }\n    listen: 127.0.0.1:${basePort + 2 + i}\n    health: { http: { path: / }, interval: 50ms }\n    stop: { drain: 200ms }\n    release: { from: "${repo}", channel: stable, trust: root.json, poll: 10m }\n`,
      );
      procs.push(new Proc(process.execPath, [CLI, 'agent', '--host', `host-${i}`, '--log-format', 'json'], home));
    }
    await Promise.all(procs.map((proc) => proc.waitFor(applied(1), 300_000, 0)));

    // The heartbeats' steady traffic, measured while nothing is published.
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const quietStart = await connections(monitor);
    const quietFrom = performance.now();
    await new Promise((resolve) => setTimeout(resolve, 5_000));
    const quiet = delta(quietStart, await connections(monitor));
    const quietS = (performance.now() - quietFrom) / 1000;
    const rate = { inMsgs: quiet.inMsgs / quietS, outMsgs: quiet.outMsgs / quietS, inBytes: quiet.inBytes / quietS, outBytes: quiet.outBytes / quietS };

    const figures: FleetFigures = {
      agents,
      firstMs: [],
      lastMs: [],
      outMsgs: [],
      outBytes: [],
      inMsgs: [],
      inBytes: [],
      idleMsgsPerS: (rate.inMsgs + rate.outMsgs) / agents,
      idleBytesPerS: (rate.inBytes + rate.outBytes) / agents,
    };
    for (let version = 2; version <= RELEASES + 1; version++) {
      const before = await connections(monitor);
      const from = performance.now();
      const seen = procs.map((proc) => proc.waitFor(applied(version), 120_000).then(() => performance.now()));
      publish(version);
      const published = performance.now();
      const times = await Promise.all(seen);
      // Let the last agent's follow-up reads (status, its next heartbeat) land in this release's count.
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      const carried = delta(before, await connections(monitor));
      const seconds = (performance.now() - from) / 1000;
      figures.firstMs.push(Math.min(...times) - published);
      figures.lastMs.push(Math.max(...times) - published);
      figures.outMsgs.push((carried.outMsgs - rate.outMsgs * seconds) / agents);
      figures.outBytes.push((carried.outBytes - rate.outBytes * seconds) / agents);
      figures.inMsgs.push((carried.inMsgs - rate.inMsgs * seconds) / agents);
      figures.inBytes.push((carried.inBytes - rate.inBytes * seconds) / agents);
    }
    return figures;
  } finally {
    await Promise.all(procs.map((proc) => proc.stop()));
    await nats.stop('SIGTERM');
  }
}

export async function fleetBench(basePort: number): Promise<FleetFigures[]> {
  return [await fleetRun(3, basePort), await fleetRun(20, basePort)];
}

export function fleetTable(rows: readonly FleetFigures[]): string {
  const kib = (bytes: number) => (bytes / 1024).toFixed(1);
  return [
    '### A fleet on NATS JetStream (bench/fleet.ts, `npm run bench -- fleet`; issue 25)',
    '',
    `One nats-server ${execFileSync('nats-server', ['--version'], { encoding: 'utf8' }).trim().replace(/^nats-server: /, '')} and N \`airlock agent\` processes on this machine, each with a tiny Node app on its own port, one channel in a nats:// repository; ${RELEASES} releases per row, medians (max). Times are from the end of \`airlock release publish\` until the first and the last agent says \`release.applied\` (verified, gate passed, taking traffic). Traffic is the server's per-connection counters (/connz) for the agents' connections over each release, less the heartbeats' steady rate (last column), per agent.`,
    '',
    '| agents | publish → first serving | publish → all serving | msgs to agent | KiB to agent | msgs from agent | KiB from agent | heartbeats, per agent |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows.map(
      (f) =>
        `| ${f.agents} | ${fmt(median(f.firstMs))} ms (${fmt(Math.max(...f.firstMs))}) | ${fmt(median(f.lastMs))} ms (${fmt(Math.max(...f.lastMs))}) | ${median(f.outMsgs).toFixed(0)} | ${kib(median(f.outBytes))} | ${median(f.inMsgs).toFixed(0)} | ${kib(median(f.inBytes))} | ${f.idleMsgsPerS.toFixed(1)} msgs/s, ${kib(f.idleBytesPerS)} KiB/s |`,
    ),
  ].join('\n');
}
