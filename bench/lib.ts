import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { copyExample } from '../scripts/copy-example.ts';
import { getOnce } from '../scripts/http-load.ts';
import { cpus, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const CLI = join(ROOT, 'packages', 'airlock', 'dist', 'cli', 'main.js');
export const WORK = join(ROOT, 'bench', '.work');

export function workDir(name: string, example?: string): string {
  const dir = join(WORK, name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  if (example) copyExample(example, dir);
  return dir;
}

/** examples/go-hello built in its own work directory and serving $PORT = `port`: the app the proxy benches put a proxy in front of. */
export async function goHello(name: string, port: number): Promise<{ dir: string; app: string; child: ChildProcess }> {
  const dir = workDir(name, 'go-hello');
  execFileSync('go', ['build', '-o', 'app', '.'], { cwd: dir });
  const app = join(dir, 'app');
  const child = spawn(app, [], { env: { ...process.env, PORT: String(port) }, stdio: 'ignore' });
  try {
    await pollUntil(port, 'hello');
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  return { dir, app, child };
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

export function fmt(ms: number): string {
  return ms >= 100 ? ms.toFixed(0) : ms.toFixed(1);
}

export function machine(): string {
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  return `${cpus().length} × ${cpu}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`;
}

export { rssMiB } from '../scripts/rss.ts';

/** A child whose output lines can be awaited. */
export class Proc {
  readonly child: ChildProcess;
  readonly lines: string[] = [];
  #waiters: { re: RegExp; resolve: (line: string) => void }[] = [];

  constructor(cmd: string, args: readonly string[], cwd: string, env: Record<string, string> = {}) {
    this.child = spawn(cmd, args, { cwd, env: { ...process.env, NO_COLOR: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const onData = (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n')) {
        if (!line) continue;
        this.lines.push(line);
        for (const w of [...this.#waiters]) if (w.re.test(line)) {
          this.#waiters.splice(this.#waiters.indexOf(w), 1);
          w.resolve(line);
        }
      }
    };
    this.child.stdout?.on('data', onData);
    this.child.stderr?.on('data', onData);
  }

  /** The first line matching re, from `since` (an index into lines) on; by default only new lines. */
  waitFor(re: RegExp, timeoutMs = 120_000, since = this.lines.length): Promise<string> {
    const seen = this.lines.slice(since).find((line) => re.test(line));
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolveLine, reject) => {
      const timer = setTimeout(() => reject(new Error(`timeout waiting for ${re}\n${this.lines.slice(-20).join('\n')}`)), timeoutMs);
      this.#waiters.push({ re, resolve: (line) => { clearTimeout(timer); resolveLine(line); } });
    });
  }

  /** Ends the child's whole process group. */
  async stop(signal: NodeJS.Signals = 'SIGINT'): Promise<void> {
    const pid = this.child.pid;
    if (pid === undefined || this.child.exitCode !== null) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    try { process.kill(-pid, signal); } catch { /* gone */ }
    const timer = setTimeout(() => { try { process.kill(-pid, 'SIGKILL'); } catch { /* gone */ } }, 15_000);
    await exited;
    clearTimeout(timer);
  }
}

/** Polls GET `path` until the body contains `needle`; returns when it did (performance.now()). */
export async function pollUntil(port: number, needle: string, timeoutMs = 60_000, path = '/'): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if ((await getOnce(port, path))?.includes(needle)) return performance.now();
    await new Promise((r) => setTimeout(r, 1));
  }
  throw new Error(`port ${port} never served ${needle}`);
}
