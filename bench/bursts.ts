import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, fmt, Proc } from './lib.ts';

/**
 * Builds per burst on the generated module of bench/monorepo.ts (20 services, 500
 * packages), one airlock dev for all three shapes: a `git checkout` that changes every
 * package, a formatter rewriting 100 files back to back, and 200 writes across 50
 * packages ~5 ms apart. A burst must complete exactly one build per affected service;
 * builds started early and cancelled are the price of handing isolated saves on at once.
 */
export interface BurstShape {
  readonly shape: string;
  readonly affected: number;
  readonly completed: number;
  readonly started: number;
  readonly cancelled: number;
  readonly ms: number;
}

function bump(dir: string, p: number): void {
  const file = join(dir, 'pkg', `p${p}`, `p${p}.go`);
  writeFileSync(file, readFileSync(file, 'utf8').replace(/var V = (\d+)/, (_m, n) => `var V = ${Number(n) + 1}`));
}

export async function burstShapes(dir: string, usedBy: Map<number, Set<string>>, services: number): Promise<BurstShape[]> {
  const git = (...args: string[]) => execFileSync('git', ['-c', 'user.email=bench@airlock', '-c', 'user.name=bench', ...args], { cwd: dir, stdio: 'pipe' });
  writeFileSync(join(dir, '.gitignore'), '.airlock/\n');
  git('init', '-q', '-b', 'main');
  git('add', '-A');
  git('commit', '-qm', 'base');
  git('checkout', '-q', '-b', 'other');
  for (let p = 0; p < 500; p++) bump(dir, p);
  git('commit', '-qam', 'every package');
  git('checkout', '-q', 'main');
  const yaml = ['services:', ...Array.from({ length: services }, (_, m) => `  svc${m}:\n    go: { main: ./cmd/svc${m} }`)].join('\n');
  writeFileSync(join(dir, 'airlock.yaml'), `${yaml}\n`);
  const airlock = new Proc(process.execPath, [CLI, 'dev', '--log-format', 'json'], dir);
  const shapes: BurstShape[] = [];
  const measure = async (shape: string, packages: readonly number[], write: () => Promise<void>) => {
    const affected = new Set<string>();
    for (const p of packages) for (const s of usedBy.get(p) ?? []) affected.add(s);
    const since = airlock.lines.length;
    const t0 = performance.now();
    await write();
    for (const s of affected) await airlock.waitFor(new RegExp(`"type":"reload\\.ready","service":"${s}"`), 300_000, since);
    const ms = performance.now() - t0;
    // A build still to come would show within a second or two of quiet.
    await new Promise((r) => setTimeout(r, 2_000));
    const events = airlock.lines.slice(since).filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { type: string });
    const count = (type: string) => events.filter((e) => e.type === type).length;
    shapes.push({ shape, affected: affected.size, completed: count('reload.ready'), started: count('build.started'), cancelled: count('build.cancelled'), ms });
  };
  try {
    for (let m = 0; m < services; m++) await airlock.waitFor(new RegExp(`"type":"reload\\.ready","service":"svc${m}"`), 300_000, 0);
    const all = Array.from({ length: 500 }, (_, p) => p);
    await measure('git checkout changing all 500 packages', all, async () => void git('checkout', '-q', 'other'));
    const hundred = Array.from({ length: 100 }, (_, i) => i * 5);
    await measure('formatter: 100 files rewritten back to back', hundred, async () => {
      for (const p of hundred) bump(dir, p);
    });
    const fifty = Array.from({ length: 50 }, (_, i) => i * 10);
    await measure('200 writes across 50 packages, ~5 ms apart', fifty, async () => {
      for (let w = 0; w < 200; w++) {
        bump(dir, fifty[w % fifty.length] as number);
        await new Promise((r) => setTimeout(r, 5));
      }
    });
  } finally {
    await airlock.stop();
  }
  return shapes;
}

export function burstTable(rows: readonly BurstShape[]): string {
  return [
    'Builds per burst, generated module (20 services, 500 packages), one airlock dev, default debounce:',
    '',
    '| burst | services affected | builds completed | per affected service | builds started | cancelled (started or waiting for a slot) | first write → all affected ready |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...rows.map((r) => `| ${r.shape} | ${r.affected} | ${r.completed} | **${(r.completed / Math.max(1, r.affected)).toFixed(2)}** | ${r.started} | ${r.cancelled} | ${fmt(r.ms)} ms |`),
  ].join('\n');
}
