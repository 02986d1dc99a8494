import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GoGraph } from '../packages/airlock/src/build/go-graph.ts';
import { CLI, fmt, median, Proc, workDir } from './lib.ts';

/**
 * A generated Go module: 500 packages (each imports two lower-numbered ones) and 20 main
 * packages (each imports 10 packages), to measure how fast a change maps to the services
 * it affects, and how many builds a burst of writes starts.
 */
const PACKAGES = 500;
const MAINS = 20;

/** A deterministic pseudo-random sequence, so every run generates the same module. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

export function generateModule(): { dir: string; mains: Record<string, string>; usedBy: Map<number, Set<string>> } {
  const dir = workDir('module');
  const next = random(42);
  writeFileSync(join(dir, 'go.mod'), 'module example.com/big\n\ngo 1.19\n');
  const deps: number[][] = [];
  for (let i = 0; i < PACKAGES; i++) {
    const imports = i < 2 ? [] : [...new Set([Math.floor(next() * i), Math.floor(next() * i)])];
    deps.push(imports);
    mkdirSync(join(dir, 'pkg', `p${i}`), { recursive: true });
    const importLines = imports.map((d) => `\t"example.com/big/pkg/p${d}"`).join('\n');
    const uses = imports.map((d) => `p${d}.V`).join(' + ');
    writeFileSync(
      join(dir, 'pkg', `p${i}`, `p${i}.go`),
      `package p${i}\n\n${imports.length ? `import (\n${importLines}\n)\n\n` : ''}// V changes when this package is edited.\nvar V = ${i}${uses ? ` + ${uses}` : ''}\n`,
    );
  }
  const mains: Record<string, string> = {};
  const usedBy = new Map<number, Set<string>>();
  for (let m = 0; m < MAINS; m++) {
    const name = `svc${m}`;
    const direct = [...new Set(Array.from({ length: 10 }, () => Math.floor(next() * PACKAGES)))];
    mkdirSync(join(dir, 'cmd', name), { recursive: true });
    writeFileSync(
      join(dir, 'cmd', name, 'main.go'),
      `package main\n\nimport (\n\t"fmt"\n\t"os"\n\t"os/signal"\n\t"syscall"\n${direct.map((d) => `\t"example.com/big/pkg/p${d}"`).join('\n')}\n)\n\nfunc main() {\n\tfmt.Println(${direct.map((d) => `p${d}.V`).join(' + ')})\n\tstop := make(chan os.Signal, 1)\n\tsignal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)\n\t<-stop\n}\n`,
    );
    mains[name] = `./cmd/${name}`;
    const stack = [...direct];
    while (stack.length > 0) {
      const p = stack.pop() as number;
      const set = usedBy.get(p) ?? new Set<string>();
      if (set.has(name)) continue;
      set.add(name);
      usedBy.set(p, set);
      stack.push(...(deps[p] ?? []));
    }
  }
  return { dir, mains, usedBy };
}

export interface GraphFigures {
  readonly loadMs: number;
  readonly bodyEditMs: number[];
  readonly importEditMs: number[];
}

/** In-process: GoGraph.load, then affected() for body edits (no relist) and import edits (relist). */
export async function graphTiming(dir: string, mains: Record<string, string>): Promise<GraphFigures> {
  const graph = new GoGraph(dir, mains);
  const t0 = performance.now();
  await graph.load();
  const loadMs = performance.now() - t0;
  const bodyEditMs: number[] = [];
  const importEditMs: number[] = [];
  for (let i = 0; i < 10; i++) {
    const file = join(dir, 'pkg', `p${100 + i}`, `p${100 + i}.go`);
    writeFileSync(file, readFileSync(file, 'utf8').replace(/var V = (\d+)/, (_m, n) => `var V = ${Number(n) + 1}`));
    let t = performance.now();
    await graph.affected([file]);
    bodyEditMs.push(performance.now() - t);
    const other = join(dir, 'pkg', `p${300 + i}`, `p${300 + i}.go`);
    const source = readFileSync(other, 'utf8');
    // A new import, and a use of it, as a person would add.
    const withImport = source.includes('import (') ? source.replace('import (', 'import (\n\t"example.com/big/pkg/p0"') : source.replace(/^package (\w+)\n/, 'package $1\n\nimport "example.com/big/pkg/p0"\n');
    writeFileSync(other, `${withImport}\nvar _ = p0.V\n`);
    t = performance.now();
    await graph.affected([other]);
    importEditMs.push(performance.now() - t);
  }
  return { loadMs, bodyEditMs, importEditMs };
}

export interface BurstFigures {
  readonly affected: number;
  readonly builds: number;
  readonly perService: number;
  readonly cancelled: number;
}

/** airlock dev on the module; 200 writes across 50 packages within one second; count builds. */
export async function burstBuilds(dir: string, usedBy: Map<number, Set<string>>): Promise<BurstFigures> {
  const yaml = ['services:', ...Array.from({ length: MAINS }, (_, m) => `  svc${m}:\n    go: { main: ./cmd/svc${m} }`)].join('\n');
  writeFileSync(join(dir, 'airlock.yaml'), `${yaml}\n`);
  const airlock = new Proc(process.execPath, [CLI, 'dev', '--log-format', 'json'], dir);
  try {
    for (let m = 0; m < MAINS; m++) await airlock.waitFor(new RegExp(`"type":"reload\\.ready","service":"svc${m}"`), 300_000, 0);
    const since = airlock.lines.length;
    const packages = Array.from({ length: 50 }, (_, i) => i * 10);
    const affected = new Set<string>();
    for (const p of packages) for (const s of usedBy.get(p) ?? []) affected.add(s);
    for (let w = 0; w < 200; w++) {
      const p = packages[w % packages.length] as number;
      const file = join(dir, 'pkg', `p${p}`, `p${p}.go`);
      writeFileSync(file, readFileSync(file, 'utf8').replace(/var V = (\d+)/, (_m, n) => `var V = ${Number(n) + 1}`));
      await new Promise((r) => setTimeout(r, 5));
    }
    for (const s of affected) await airlock.waitFor(new RegExp(`"type":"reload\\.ready","service":"${s}"`), 300_000, since);
    // Everything that was going to start has started once every affected service is ready.
    const events = airlock.lines.slice(since).filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { type: string; service: string });
    const builds = events.filter((e) => e.type === 'build.started').length;
    const cancelled = events.filter((e) => e.type === 'build.cancelled').length;
    return { affected: affected.size, builds, perService: builds / Math.max(1, affected.size), cancelled };
  } finally {
    await airlock.stop();
  }
}

export function monorepoTable(graph: GraphFigures, burst: BurstFigures): string {
  return [
    `Go module graph, generated module of ${PACKAGES} packages and ${MAINS} main packages:`,
    '',
    '| step | ms |',
    '| --- | --- |',
    `| first \`go list -e -json ./...\` and the closures of all mains (start-up) | ${fmt(graph.loadMs)} |`,
    `| edit → affected set known, body edit (median of 10) | ${fmt(median(graph.bodyEditMs))} |`,
    `| edit → affected set known, import edit: lists again (median of 10) | ${fmt(median(graph.importEditMs))} |`,
    '',
    `Burst of 200 writes across 50 packages within ~1 s, airlock dev with all ${MAINS} services: ${burst.affected} services affected, ${burst.builds} builds started (${burst.perService.toFixed(2)} per affected service), ${burst.cancelled} cancelled.`,
  ].join('\n');
}
