import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import WebSocket from 'ws';
import { AirlockRun, cleanupAfter, exampleOnFreePort, freePorts, getOnce, isAlive, removeProject, tempProject } from './helpers.ts';
import { readStat } from '../../packages/airlock/src/supervise/proc.ts';

/** delve's own JSON-RPC (API v2), one request per line, as an IDE speaks it. */
class DelveClient {
  readonly #socket: Socket;
  #buffer = '';
  #id = 0;
  readonly #waiting = new Map<number, (reply: { result?: Record<string, unknown>; error?: string | null }) => void>();

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.setEncoding('utf8').on('data', (chunk: string) => {
      this.#buffer += chunk;
      for (let end = this.#buffer.indexOf('\n'); end !== -1; end = this.#buffer.indexOf('\n')) {
        const reply = JSON.parse(this.#buffer.slice(0, end)) as { id: number; result?: Record<string, unknown>; error?: string | null };
        this.#buffer = this.#buffer.slice(end + 1);
        this.#waiting.get(reply.id)?.(reply);
      }
    });
  }

  static attach(port: number): Promise<DelveClient> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port }, () => resolve(new DelveClient(socket)));
      socket.once('error', reject);
    });
  }

  call(method: string, params: Record<string, unknown>): Promise<Record<string, unknown>> {
    const id = ++this.#id;
    return new Promise((resolve, reject) => {
      this.#waiting.set(id, (reply) => (reply.error ? reject(new Error(String(reply.error))) : resolve(reply.result ?? {})));
      this.#socket.write(`${JSON.stringify({ method: `RPCServer.${method}`, params: [params], id })}\n`);
    });
  }

  /** Pauses the program (as a breakpoint does) and says which process it is. */
  async halt(): Promise<number> {
    const result = await this.call('Command', { name: 'halt' });
    return (result.State as { Pid: number }).Pid;
  }

  /** Lets it run again; the reply comes only at the next stop, so it is not awaited. */
  resume(): void {
    void this.call('Command', { name: 'continue' }).catch(() => undefined);
  }

  close(): void {
    this.#socket.destroy();
  }
}

function setGreeting(dir: string, text: string): void {
  const main = join(dir, 'main.go');
  writeFileSync(main, readFileSync(main, 'utf8').replace(/const greeting = ".*"/, `const greeting = "${text}"`));
}

describe('debug: { delve: true } — a debugger on a stable address', () => {
  const cleanup = cleanupAfter();

  it('reaches the serving generation, follows a reload, and never fails or kills a generation paused at a breakpoint', async () => {
    const { dir, port } = await exampleOnFreePort('go-hello', '127.0.0.1:8080', cleanup);
    // Not the service's port (two ports looked up apart may be the same one).
    const debugPort = (await freePorts(2)).find((candidate) => candidate !== port) as number;
    const yaml = join(dir, 'airlock.yaml');
    // Fast probes and short grace periods: without the hold, a paused generation would be failed and killed within seconds.
    writeFileSync(
      yaml,
      readFileSync(yaml, 'utf8')
        .replace('      http: { path: /healthz }', '      http: { path: /healthz }\n      interval: 200ms\n      failureThreshold: 2')
        .replace('stop: { signal: SIGTERM, timeout: 10s }', 'stop: { signal: SIGTERM, timeout: 1s, drain: 1s }') + `    debug: { delve: true, listen: 127.0.0.1:${debugPort} }\n`,
    );
    const run = new AirlockRun(['dev', '--log-format', 'json'], dir);
    cleanup(() => run.kill());
    const g1 = await run.waitForEvent('reload.ready', { generation: 1 }, 180_000, 0);

    // Attached once, on the stable address: the program is g1's (its parent is g1's dlv).
    const first = await DelveClient.attach(debugPort);
    cleanup(() => first.close());
    const g1Program = await first.halt();
    assert.equal(readStat(g1Program)?.ppid, g1.pid, 'the stable address reaches generation 1');
    assert.equal(readStat(g1Program)?.state, 't', 'paused by the debugger');

    // Paused for many times the failure threshold: no probe fails it (it would after 2 × 200 ms).
    const since = run.events.length;
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    assert.ok(!run.events.slice(since).some((e) => e.type === 'health.failed' || e.type === 'rollback' || e.type === 'process.exited'), run.output());

    // A reload while g1 is paused: g2 takes traffic, g1's drain and 1 s grace pass, and g1 is not killed while held.
    setGreeting(dir, 'hello while debugging');
    const g2 = await run.waitForEvent('reload.ready', { generation: 2 }, 180_000, since);
    assert.match((await getOnce(port, '/')) ?? '', /hello while debugging/);
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    assert.ok(isAlive(g1Program), 'g1 paused at a breakpoint outlives its drain and grace period');
    assert.ok(!run.events.some((e) => e.type === 'process.exited' && e.generation === 1));

    // A new connection to the same address reaches g2, without knowing its port.
    const second = await DelveClient.attach(debugPort);
    cleanup(() => second.close());
    const g2Program = await second.halt();
    assert.equal(readStat(g2Program)?.ppid, g2.pid, 'the same address now reaches generation 2');
    second.resume();

    // Let g1 go: it gets the stop signal it was sent, drains as it would without a debugger, and dlv ends with it.
    first.resume();
    const exited = await run.waitForEvent('process.exited', { generation: 1 }, 30_000, 0);
    assert.equal(exited.forced, false, 'stopped by its own SIGTERM handling, not SIGKILL');
    assert.equal(exited.expected, true);
    assert.ok(!isAlive(g1Program));
    await run.interrupt();
  });
});

describe('debug: { inspect: true } — Node inspector on a stable address', () => {
  const cleanup = cleanupAfter();

  /** The pid of the Node process the stable inspector address reaches, asked over the inspector protocol. */
  async function inspectedPid(debugPort: number): Promise<number> {
    const list = (await (await fetch(`http://127.0.0.1:${debugPort}/json/list`)).json()) as { webSocketDebuggerUrl: string }[];
    const url = list[0]?.webSocketDebuggerUrl as string;
    assert.match(url, new RegExp(`^ws://127\\.0\\.0\\.1:${debugPort}/`), 'the page names the stable address, not the private one');
    const socket = new WebSocket(url);
    cleanup(() => socket.terminate());
    await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
    const reply = new Promise<{ result: { result: { value: number } } }>((resolve) => socket.once('message', (data: Buffer) => resolve(JSON.parse(data.toString()))));
    socket.send(JSON.stringify({ id: 1, method: 'Runtime.evaluate', params: { expression: 'process.pid' } }));
    const pid = (await reply).result.result.value;
    socket.close();
    return pid;
  }

  it('reaches the serving generation and follows a reload', async () => {
    const dir = tempProject();
    cleanup(() => removeProject(dir));
    const [port, debugPort] = (await freePorts(2)) as [number, number];
    writeFileSync(join(dir, 'server.js'), "require('http').createServer((q, s) => s.end('v1')).listen(process.env.PORT, '127.0.0.1');\n");
    writeFileSync(
      join(dir, 'airlock.yaml'),
      `services:\n  web:\n    run: { cmd: node server.js }\n    listen: 127.0.0.1:${port}\n    health: { http: { path: / } }\n    watch: { include: ['*.js'] }\n    debug: { inspect: true, listen: 127.0.0.1:${debugPort} }\n`,
    );
    const run = new AirlockRun(['dev', '--log-format', 'json'], dir);
    cleanup(() => run.kill());
    const g1 = await run.waitForEvent('reload.ready', { generation: 1 }, 60_000, 0);
    assert.equal(await inspectedPid(debugPort), g1.pid);
    writeFileSync(join(dir, 'server.js'), "require('http').createServer((q, s) => s.end('v2')).listen(process.env.PORT, '127.0.0.1');\n");
    const g2 = await run.waitForEvent('reload.ready', { generation: 2 }, 60_000, 0);
    assert.equal(await inspectedPid(debugPort), g2.pid);
    await run.interrupt();
  });
});
