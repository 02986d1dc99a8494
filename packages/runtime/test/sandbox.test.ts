import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PluginHost } from '../src/plugins/index.ts';
import { NOTHING, parsePermissions } from '../src/plugins/permissions.ts';
import { pluginCgroup } from '../src/plugins/cgroup.ts';
import { bubblewrap } from '../src/plugins/sandbox.ts';
import { callsUntilStopped, processesNaming, waitForPluginEvent, waitUntil } from './support/plugin-checks.ts';

/**
 * Sandboxed plugins, each written as an attacker would write it: every way out the issue
 * names is tried from inside a real sandbox (bubblewrap and Node's permission model), and
 * the host (this test process) stays up and keeps serving.
 */
const root = mkdtempSync(join(tmpdir(), 'airlock-sandbox-'));
after(() => rmSync(root, { recursive: true, force: true }));
const secret = join(root, 'secret.txt');
const data = join(root, 'data');
const out = join(root, 'out');
const plugins = join(root, 'plugins');

function writePlugin(name: string, code: string, manifest: Record<string, unknown>): void {
  const at = join(plugins, name);
  mkdirSync(at, { recursive: true });
  writeFileSync(join(at, 'index.mjs'), code);
  writeFileSync(join(at, 'plugin.json'), JSON.stringify({ name, version: '1.0.0', main: 'index.mjs', host: '^1', ...manifest }));
}

/** This process's plugin cgroups still in the cgroup trees. */
function leftCgroups(): string[] {
  const found: string[] = [];
  const walk = (dir: string, depth: number) => {
    let entries: string[] = [];
    try {
      entries = readdirSync(dir);
    } catch {
      return;
    }
    for (const entry of entries) {
      if (entry.startsWith(`airlock-plugin-${process.pid}-`)) found.push(join(dir, entry));
      else if (depth < 4 && !entry.includes('.')) walk(join(dir, entry), depth + 1);
    }
  };
  walk('/sys/fs/cgroup', 0);
  return found;
}

/** CPU milliseconds used so far by the processes whose command line names `text`. */
function cpuMsOf(text: string): number {
  let ms = 0;
  for (const pid of processesNaming(text)) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ms += (Number(fields[11]) + Number(fields[12])) * 10;
    } catch {
      // Gone meanwhile.
    }
  }
  return ms;
}

/** What each attempt gives back: "ok: …" or "denied: CODE". */
const ATTACKER = `
import { readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
const tryIt = async (fn) => { try { return 'ok: ' + String(await fn()).slice(0, 60); } catch (e) { return 'denied: ' + (e.code ?? e.message); } };
export const readGranted = (path) => tryIt(() => readFileSync(path, 'utf8'));
export const readPath = (path) => tryIt(() => readFileSync(path, 'utf8'));
export const writePath = (path) => tryIt(() => { writeFileSync(path, 'pwned'); return 'written'; });
export const spawnChild = () => tryIt(async () => (await import('node:child_process')).execFileSync('/bin/true'));
export const openWorker = () => tryIt(async () => { const { Worker } = await import('node:worker_threads'); const w = new Worker('1', { eval: true }); await w.terminate(); return 'worker'; });
export const tcp = (port) => tryIt(() => new Promise((resolve, reject) => {
  const socket = connect(port, '127.0.0.1');
  socket.once('data', (d) => { socket.destroy(); resolve(d.toString()); });
  socket.once('error', reject);
  setTimeout(() => { socket.destroy(); reject(new Error('no answer')); }, 3000);
}));
export const udp = (port) => tryIt(async () => {
  const { createSocket } = await import('node:dgram');
  const socket = createSocket('udp4');
  return new Promise((resolve, reject) => {
    socket.on('error', (e) => { socket.close(); reject(e); });
    socket.on('message', (m) => { socket.close(); resolve(m.toString()); });
    socket.send('hello', port, '127.0.0.1');
    setTimeout(() => { socket.close(); reject(new Error('no answer')); }, 1500);
  });
});
export const dns = (name) => tryIt(async () => (await import('node:dns/promises')).lookup(name).then((a) => a.address));
export const env = () => Object.keys(process.env).filter((k) => !k.startsWith('NODE_')).sort().join(',');
`;

describe('a sandboxed plugin (bubblewrap and Node permissions)', { skip: 'missing' in bubblewrap() ? (bubblewrap() as { missing: string }).missing : false }, () => {
  let host: PluginHost;
  let granted: Server;
  let other: Server;
  let udpServer: ReturnType<typeof createSocket>;
  let udpHeard = 0;

  before(async () => {
    writeFileSync(secret, 'the secret');
    mkdirSync(data);
    mkdirSync(out);
    writeFileSync(join(data, 'allowed.txt'), 'allowed');
    writeFileSync(join(root, 'plugin.log'), '');
    symlinkSync(secret, join(data, 'link-to-secret'));
    const listen = (text: string) =>
      new Promise<Server>((resolve) => {
        const server = createServer((socket) => socket.end(text));
        server.listen(0, '127.0.0.1', () => resolve(server));
      });
    granted = await listen('granted service');
    other = await listen('not granted');
    udpServer = createSocket('udp4');
    udpServer.on('message', (message, from) => {
      udpHeard += 1;
      udpServer.send(`echo ${message.toString()}`, from.port, from.address);
    });
    await new Promise<void>((resolve) => udpServer.bind(0, '127.0.0.1', () => resolve()));
    const grantedPort = (granted.address() as AddressInfo).port;
    writePlugin('attacker', ATTACKER, {
      permissions: { fs: [`read:${data}`, `write:${out}`, `write:${join(root, 'plugin.log')}`], net: [`connect:127.0.0.1:${grantedPort}`] },
    });
    writePlugin('hog', `const keep = []; export function eat() { for (;;) keep.push(Buffer.alloc(8 * 2 ** 20, 1)); }\nexport const hello = () => 'hi';`, { permissions: { memoryMB: 96 } });
    writePlugin('spinner', `export function spin() { setImmediate(function again() { const until = Date.now() + 50; while (Date.now() < until); setImmediate(again); }); return 'spinning'; }\nexport const ping = () => 'pong';`, { permissions: { cpuMsPerSecond: 200 } });
    writePlugin('threaded', `export const x = 1;`, { isolation: 'worker', permissions: {} });
    process.env.AIRLOCK_TEST_HOST_SECRET = 'do not leak';
    host = new PluginHost({ dir: plugins, watch: false, timeouts: { call: 10_000, load: 20_000 } });
    await host.start();
  });

  after(async () => {
    await host?.close();
    granted?.close();
    other?.close();
    udpServer?.close();
    delete process.env.AIRLOCK_TEST_HOST_SECRET;
  });

  it('reads what it was granted, and nothing else: not by "..", a symbolic link or /proc/self/root', async () => {
    assert.equal(await host.call('attacker', 'readGranted', join(data, 'allowed.txt')), 'ok: allowed');
    for (const path of [secret, join(data, '..', 'secret.txt'), join(data, 'link-to-secret'), `/proc/self/root${secret}`, '/etc/passwd', '/proc/1/environ']) {
      assert.match(await host.call('attacker', 'readPath', path) as string, /^denied: /, path);
    }
  });

  it('writes only where it was granted', async () => {
    assert.equal(await host.call('attacker', 'writePath', join(out, 'result.txt')), 'ok: written');
    assert.equal(readFileSync(join(out, 'result.txt'), 'utf8'), 'pwned');
    // A single file may be granted too, and stays a file.
    assert.equal(await host.call('attacker', 'writePath', join(root, 'plugin.log')), 'ok: written');
    assert.equal(readFileSync(join(root, 'plugin.log'), 'utf8'), 'pwned');
    for (const path of [join(root, 'evil.txt'), join(data, 'evil.txt'), join(plugins, 'attacker', 'index.mjs'), '/tmp/evil.txt']) {
      assert.match(await host.call('attacker', 'writePath', path) as string, /^denied: /, path);
    }
    assert.equal(existsSync(join(root, 'evil.txt')), false);
    assert.equal(existsSync(join(data, 'evil.txt')), false);
    assert.match(readFileSync(join(plugins, 'attacker', 'index.mjs'), 'utf8'), /tryIt/);
  });

  it('cannot start a process or a worker thread', async () => {
    assert.match(await host.call('attacker', 'spawnChild') as string, /^denied: ERR_ACCESS_DENIED/);
    assert.match(await host.call('attacker', 'openWorker') as string, /^denied: ERR_ACCESS_DENIED/);
  });

  it('reaches the granted address, and no other loopback port, by TCP or UDP, nor DNS', async () => {
    assert.equal(await host.call('attacker', 'tcp', (granted.address() as AddressInfo).port), 'ok: granted service');
    assert.match(await host.call('attacker', 'tcp', (other.address() as AddressInfo).port) as string, /^denied: ECONNREFUSED/);
    assert.match(await host.call('attacker', 'udp', (udpServer.address() as AddressInfo).port) as string, /^denied: /);
    assert.equal(udpHeard, 0, 'no datagram reached the host');
    assert.match(await host.call('attacker', 'dns', 'localhost') as string, /^denied: /);
  });

  it('sees none of the host environment', async () => {
    const names = (await host.call('attacker', 'env')) as string;
    // Only what the plugin side reads (and the PWD bubblewrap sets): no PATH, HOME or secrets of the host's.
    assert.deepEqual(names.split(',').filter((name) => !['AIRLOCK_PLUGIN_DATA', 'AIRLOCK_PLUGIN_BRIDGES', 'PWD'].includes(name)), []);
  });

  it('is stopped with the reason when its Buffers pass memoryMB, and the host keeps serving', async () => {
    assert.equal(await host.call('hog', 'hello'), 'hi');
    const failed = waitForPluginEvent(host, (e) => e.name === 'hog' && e.state === 'failed', 'the hog to be stopped', 30_000);
    // The kernel's cgroup limit where this machine has one, else the watchdog: either says so.
    await assert.rejects(host.call('hog', 'eat'), /ran out of memory: (\d+ MB resident, over its|the kernel stopped it at its cgroup v[12] limit,) permissions\.memoryMB 96/);
    await failed;
    assert.equal(await host.call('attacker', 'readGranted', join(data, 'allowed.txt')), 'ok: allowed');
  });

  it('cannot spin past cpuMsPerSecond: held to its share by a cgroup, else stopped with the reason', async () => {
    const probe = pluginCgroup({ cpuMsPerSecond: 200 });
    await probe?.remove();
    if (probe === undefined) {
      const stopped = waitForPluginEvent(host, (e) => e.name === 'spinner' && e.state === 'failed', 'the spinner to be stopped', 30_000);
      assert.equal(await host.call('spinner', 'spin'), 'spinning');
      const event = await stopped;
      assert.match(event.error ?? '', /used \d+ ms of CPU a second for 3 s, over its permissions\.cpuMsPerSecond 200/);
      return;
    }
    assert.equal(await host.call('spinner', 'spin'), 'spinning');
    // A quota of 200 ms a second: over 2 s it gets about 400 ms, however hard it spins.
    const before = cpuMsOf(join(plugins, 'spinner'));
    const started = performance.now();
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const perSecond = ((cpuMsOf(join(plugins, 'spinner')) - before) * 1000) / (performance.now() - started);
    assert.ok(perSecond <= 200 * 1.5, `${Math.round(perSecond)} ms of CPU a second`);
    assert.equal(await host.call('spinner', 'ping'), 'pong', 'held, not stopped: it still answers');
  });

  it('refuses permissions with a thread isolation, saying why', () => {
    const threaded = host.plugins().find((plugin) => plugin.name === 'threaded');
    assert.equal(threaded?.state, 'failed');
    assert.match(threaded?.error ?? '', /"isolation" "worker" cannot enforce "permissions"/);
  });

  // 30 here: the 100 swaps issue 26 asks for run through the remote path (airlock's plugin-channel test), which ends in this same sandbox.
  it('swaps 30 times under calls with none failed, and leaves no sandbox behind', async () => {
    const swaps = Number(process.env.PLUGIN_SWAPS ?? 30);
    writePlugin('counter', `export const version = () => 0;`, { permissions: {} });
    await host.reload('counter');
    const perVersion = processesNaming(join(plugins, 'counter')).length;
    assert.ok(perVersion > 0);
    const load = callsUntilStopped(host, 'counter', 'version');
    for (let version = 1; version <= swaps; version++) {
      writePlugin('counter', `export const version = () => ${version};`, { version: `1.0.${version}`, permissions: {} });
      await host.reload('counter');
      assert.equal(await host.call('counter', 'version'), version);
    }
    const { calls, failures } = await load.stop();
    assert.deepEqual(failures, []);
    assert.ok(calls > swaps, `${calls} calls`);
    // The old versions' sandboxes are gone: only the active one names the counter plugin.
    const left = await waitUntil(() => processesNaming(join(plugins, 'counter')).length <= perVersion);
    assert.ok(left, `processes left: ${processesNaming(join(plugins, 'counter')).join(', ')}`);
  });

  it('leaves no process behind once the host closes', async () => {
    assert.notDeepEqual(processesNaming(join(plugins, 'attacker')), [], 'the attacker runs before close');
    await host.close();
    // The sandbox's inner processes die with it (their parent-death signal), a moment after it.
    assert.ok(await waitUntil(() => processesNaming(plugins).length === 0), `left: ${processesNaming(plugins).join(', ')}`);
    // Nor a cgroup of its own.
    assert.ok(await waitUntil(() => leftCgroups().length === 0), `cgroups left: ${leftCgroups().join(', ')}`);
  });
});

describe('permissions in plugin.json', () => {
  it('reads grants, resolving relative paths from the working directory', () => {
    const permissions = parsePermissions({ fs: ['read:./data', 'write:/tmp/x/../plugin-x'], net: ['connect:localhost:6379'], child: false, memoryMB: 64, cpuMsPerSecond: 200 }, '/srv/app');
    assert.deepEqual(permissions, { read: ['/srv/app/data'], write: ['/tmp/plugin-x'], connect: [{ host: '127.0.0.1', port: 6379 }], child: false, memoryMB: 64, cpuMsPerSecond: 200 });
    assert.deepEqual(parsePermissions({}, '/'), NOTHING);
  });

  it('refuses what it cannot enforce or does not know, naming the entry and what was expected', () => {
    const cases: [unknown, RegExp][] = [
      [{ fs: ['exec:/bin'] }, /"permissions.fs" entry "exec:\/bin": expected "read:PATH" or "write:PATH"/],
      [{ fs: ['read:/'] }, /the whole file system cannot be granted/],
      [{ fs: ['read:/a,/b'] }, /may not contain a comma/],
      [{ net: ['connect:10.0.0.5:5432'] }, /only loopback addresses .* run a forwarder/],
      [{ net: ['connect:127.0.0.1:99999'] }, /expected "connect:HOST:PORT"/],
      [{ net: true }, /"permissions.net" must be false or a list/],
      [{ memoryMB: 0 }, /"permissions.memoryMB" must be a whole number from 1/],
      [{ network: false }, /unknown key "network"; allowed: fs, net, child, memoryMB, cpuMsPerSecond/],
    ];
    for (const [raw, message] of cases) assert.throws(() => parsePermissions(raw, '/srv'), message, JSON.stringify(raw));
  });
});
