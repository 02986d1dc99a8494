import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { copyExample } from '../../scripts/copy-example.ts';
import { listeningInodes } from '../../packages/airlock/src/supervise/port-owner.ts';
import { freePort as unusedPort } from '../../packages/airlock/src/swap/proxy-handoff.ts';
import { getOnce } from '../../scripts/http-load.ts';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after } from 'node:test';
import { request as httpRequest } from 'node:http';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CLI = join(ROOT, 'packages', 'airlock', 'dist', 'cli', 'main.js');

/** Every port this test process was given: the kernel may hand a just-closed one out again. */
const handedOut = new Set<number>();

/**
 * A port nobody listens on right now, and never one this test process was given before: two
 * calls in a row (a service's port, then the dashboard's) could otherwise get the same port
 * back before either is bound.
 */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await unusedPort();
    if (handedOut.has(port)) continue;
    handedOut.add(port);
    return port;
  }
}

/**
 * Several loopback ports nobody listens on, all different: each is held open until all
 * are found (two calls of freePort in a row may get the same port back from the kernel).
 */
export async function freePorts(count: number): Promise<number[]> {
  const { createServer } = await import('node:net');
  const servers = await Promise.all(
    Array.from({ length: count }, () => new Promise<import('node:net').Server>((resolve, reject) => {
      const server = createServer();
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve(server));
    })),
  );
  const ports = servers.map((server) => (server.address() as import('node:net').AddressInfo).port);
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  if (ports.some((port) => handedOut.has(port))) return freePorts(count);
  for (const port of ports) handedOut.add(port);
  return ports;
}

/** A copy of an example (or an empty dir) in a fresh temp directory. */
export function tempProject(example?: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'airlock-e2e-'));
  if (example) copyExample(example, dir);
  return dir;
}

export function removeProject(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/**
 * A copy of examples/<name> whose airlock.yaml listens on a free loopback port instead of
 * `address` (the example's own), removed after the test.
 */
export async function exampleOnFreePort(name: string, address: string, cleanup: (...steps: (() => unknown)[]) => void): Promise<{ dir: string; port: number; yamlPath: string }> {
  const dir = tempProject(name);
  cleanup(() => removeProject(dir));
  const port = await freePort();
  const yamlPath = join(dir, 'airlock.yaml');
  writeFileSync(yamlPath, readFileSync(yamlPath, 'utf8').replace(address, `127.0.0.1:${port}`));
  return { dir, port, yamlPath };
}

export interface JsonEvent {
  type: string;
  service?: string;
  generation?: number;
  pid?: number;
  [key: string]: unknown;
}

/**
 * The built CLI running in a temp project. Output is collected line by line; waitFor
 * resolves on the first line (or JSON event) that matches, with a deadline so a broken
 * build fails the test instead of hanging it. Every pid airlock reports is remembered so
 * the after hook can end them even if airlock itself misbehaved.
 */
export class AirlockRun {
  readonly child: ChildProcess;
  readonly lines: string[] = [];
  readonly events: JsonEvent[] = [];
  readonly childPids = new Set<number>();
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  #waiters: { test: (line: string) => boolean; resolve: (line: string) => void; reject: (error: Error) => void }[] = [];

  constructor(args: readonly string[], cwd: string, env: Record<string, string> = {}) {
    this.child = spawn(process.execPath, [CLI, ...args], {
      cwd,
      env: { ...process.env, NO_COLOR: '1', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    // A line longer than one chunk (an event listing 5,000 paths) arrives in pieces.
    const lineReader = () => {
      let partial = '';
      return (chunk: string) => {
        const parts = (partial + chunk).split('\n');
        partial = parts.pop() ?? '';
        for (const line of parts) if (line !== '') this.#line(line);
      };
    };
    this.child.stdout?.setEncoding('utf8').on('data', lineReader());
    this.child.stderr?.setEncoding('utf8').on('data', lineReader());
    this.exited = new Promise((resolveExit) =>
      this.child.once('close', (code, signal) => {
        // Nothing more will come: fail every pending wait now instead of at its deadline.
        for (const waiter of this.#waiters.splice(0)) waiter.reject(new Error(`airlock exited (${code ?? signal}); output:\n${this.output()}`));
        resolveExit({ code, signal });
      }),
    );
  }

  #line(line: string): void {
    this.lines.push(line);
    if (line.startsWith('{')) {
      try {
        const event = JSON.parse(line) as JsonEvent;
        this.events.push(event);
        if (event.type === 'process.started' && typeof event.pid === 'number') this.childPids.add(event.pid);
      } catch {
        // a child's own output that happens to start with "{"
      }
    }
    for (const waiter of [...this.#waiters]) {
      if (waiter.test(line)) {
        this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
        waiter.resolve(line);
      }
    }
  }

  /** Resolves with the first line from now on (or already seen, from `since`) that matches. */
  waitForLine(pattern: RegExp, timeoutMs = 60_000, since = this.lines.length): Promise<string> {
    const seen = this.lines.slice(since).find((line) => pattern.test(line));
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolveLine, reject) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w.resolve !== done);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${pattern}; output:\n${this.output()}`));
      }, timeoutMs);
      const done = (line: string) => {
        clearTimeout(timer);
        resolveLine(line);
      };
      const fail = (error: Error) => {
        clearTimeout(timer);
        reject(error);
      };
      this.#waiters.push({ test: (line) => pattern.test(line), resolve: done, reject: fail });
    });
  }

  /** Waits for a JSON event of a type (and matching fields), from now on or since an index. */
  async waitForEvent(type: string, fields: Record<string, unknown> = {}, timeoutMs = 60_000, since = this.events.length): Promise<JsonEvent> {
    const matches = (event: JsonEvent) => event.type === type && Object.entries(fields).every(([k, v]) => event[k] === v);
    const seen = this.events.slice(since).find(matches);
    if (seen) return seen;
    let lineStart = this.lines.length;
    // One deadline for the whole wait: events of the type that do not match must not extend it.
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const left = deadline - performance.now();
      if (left <= 0) throw new Error(`timed out after ${timeoutMs} ms waiting for ${type} ${JSON.stringify(fields)}; output:\n${this.output()}`);
      await this.waitForLine(new RegExp(`"type":"${type.replace('.', '\\.')}"`), left, lineStart);
      lineStart = this.lines.length;
      // The object from this.events, so callers can find its index there.
      const found = this.events.slice(since).find(matches);
      if (found) return found;
    }
  }

  /** Waits for the first JSON event since an index for which `test` holds. */
  async waitForMatch(test: (event: JsonEvent) => boolean, timeoutMs = 60_000, since = this.events.length): Promise<JsonEvent> {
    const deadline = performance.now() + timeoutMs;
    for (let lineStart = this.lines.length; ; lineStart = this.lines.length) {
      const found = this.events.slice(since).find(test);
      if (found) return found;
      const left = deadline - performance.now();
      if (left <= 0) throw new Error(`timed out after ${timeoutMs} ms waiting for a matching event; output:\n${this.output()}`);
      await this.waitForLine(/^\{/, left, lineStart);
    }
  }

  /** Stops airlock the way a user does (Ctrl-C) and returns its exit code. */
  async interrupt(signal: NodeJS.Signals = 'SIGINT', timeoutMs = 60_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    this.child.kill(signal);
    // A deadline, so an airlock that does not stop fails the test instead of hanging the suite.
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`airlock did not exit within ${timeoutMs} ms of ${signal}; output:\n${this.output()}`)), timeoutMs);
    });
    try {
      return await Promise.race([this.exited, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** After hook: whatever happened, end airlock and every process group it reported. */
  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    for (const pid of this.childPids) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }

  /** The output so far, its last 2,000 lines at most (a flood would not fit in one string). */
  output(): string {
    const shown = this.lines.slice(-2_000);
    return `${this.lines.length > shown.length ? `[${this.lines.length - shown.length} earlier lines left out]\n` : ''}${shown.join('\n')}`;
  }
}

/** One HTTP GET on a fresh connection (no keep-alive); undefined on any connection error. */
export const get = getOnce;
export { getOnce };

/**
 * GETs `path` until the body passes `test` (a swap inside the app has no event airlock
 * could report): the body, or an error naming what never came and the last answer.
 */
export async function getUntil(port: number, path: string, test: (body: string) => boolean, what: string, timeoutMs = 30_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const body = await getOnce(port, path);
    if (body !== undefined && test(body)) return body;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last: ${body}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** True when nothing listens on the TCP port (read from /proc/net/tcp and tcp6). */
export function isPortFree(port: number): boolean {
  return listeningInodes(port).size === 0;
}

/** Alive and not a zombie. */
export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/**
 * Steps for the enclosing suite's after hook, run last-added first (stop the load, end
 * airlock and its children, remove the project), whether the test passed or not; steps
 * added in one call run in the order given.
 *
 * @example
 *   const cleanup = cleanupAfter();
 *   cleanup(() => run.kill(), () => removeProject(dir));
 */
export function cleanupAfter(): (...steps: (() => unknown)[]) => void {
  const all: (() => unknown)[] = [];
  after(async () => {
    for (const step of all.reverse()) await step();
  });
  return (...steps) => void all.push(...steps.reverse());
}

/** One request to the control API of the airlock running in dir (undefined when it does not answer). */
export function control(dir: string, method: string, path: string): Promise<{ status: number; body: string } | undefined> {
  return new Promise((resolve) => {
    const req = httpRequest({ socketPath: join(dir, '.airlock', 'control.sock'), method, path }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', () => resolve(undefined));
    });
    req.on('error', () => resolve(undefined));
    req.end();
  });
}

/**
 * Debian's Chromium driven by playwright-core (no browser download), ended by its pid in
 * the test's after hook. No sandbox (CI runs as root), and no calls to Google's hosts
 * (none are reachable here).
 */
export async function launchChromium(cleanup: (...steps: (() => unknown)[]) => void): Promise<import('playwright-core').Browser> {
  const { chromium } = await import('playwright-core');
  const server = await chromium.launchServer({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const pid = server.process().pid;
  cleanup(async () => {
    await server.close().catch(() => undefined);
    if (pid !== undefined) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  });
  return chromium.connect(server.wsEndpoint());
}
