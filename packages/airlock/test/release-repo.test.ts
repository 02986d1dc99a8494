import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ReleaseChannel } from '../src/release/channel.ts';
import { Metadata, Root } from '@tufjs/models';
import { loadKey } from '../src/release/keys.ts';
import { expire, initRepository, publish } from '../src/release/repository.ts';
import { rotateRoot } from '../src/release/rotate.ts';

const root = mkdtempSync(join(tmpdir(), 'airlock-release-'));
after(() => rmSync(root, { recursive: true, force: true }));
let count = 0;

/** A fresh repository with its keys, and a file to publish. */
function repo() {
  const base = join(root, `r${++count}`);
  const dir = join(base, 'channel');
  const keys = join(base, 'keys');
  const { trust } = initRepository(dir, keys);
  const file = (name: string, text: string) => {
    const path = join(base, name);
    writeFileSync(path, text);
    return path;
  };
  let caches = 0;
  const channel = (from = dir) => new ReleaseChannel({ from, trust, cacheDir: join(base, `cache${++caches}`) });
  return { base, dir, keys, trust, file, channel };
}

/** Flips one byte in the middle of a file. */
function flip(path: string): void {
  const bytes = readFileSync(path);
  const at = Math.floor(bytes.length / 2);
  bytes[at] = (bytes[at] as number) ^ 0x01;
  writeFileSync(path, bytes);
}

const DAY = 86_400_000;

describe('release repository (TUF, written with @tufjs/models, read with tuf-js)', () => {
  it('publishes a release a fresh client verifies, lists and downloads byte for byte', async () => {
    const r = repo();
    publish(r.dir, r.keys, r.file('app', 'v1'), { service: 'api', channel: 'stable', version: 1 });
    publish(r.dir, r.keys, r.file('app', 'v2'), { service: 'api', channel: 'stable', version: 2 });
    publish(r.dir, r.keys, r.file('other', 'x'), { service: 'web', channel: 'stable', version: 9 });
    const channel = r.channel();
    const releases = await channel.releases('api', 'stable');
    assert.deepEqual(releases.map((x) => x.version), [2, 1]);
    const out = join(r.base, 'out');
    await channel.download(releases[0]!, out);
    assert.equal(readFileSync(out, 'utf8'), 'v2');
    assert.deepEqual(await r.channel().releases('api', 'beta'), [], 'another channel');
    const keyModes = readdirSync(r.keys).filter((f) => f.endsWith('.key')).map((f) => statSync(join(r.keys, f)).mode & 0o777);
    assert.deepEqual([...new Set(keyModes)], [0o600]);
  });

  it('refuses to publish a version not above the highest of its service and channel', () => {
    const r = repo();
    publish(r.dir, r.keys, r.file('app', 'v3'), { service: 'api', channel: 'stable', version: 3 });
    assert.throws(() => publish(r.dir, r.keys, r.file('app', 'again'), { service: 'api', channel: 'stable', version: 3 }), { code: 'RELEASE_VERSION', message: /version 3 of api on stable is not above 3, the highest published; publish with --version 4 or more/ });
    assert.doesNotThrow(() => publish(r.dir, r.keys, r.file('app', 'beta'), { service: 'api', channel: 'beta', version: 1 }));
  });

  it('refuses a flipped byte in the artifact at download', async () => {
    const r = repo();
    const { sha256 } = publish(r.dir, r.keys, r.file('app', 'the real bytes'), { service: 'api', channel: 'stable', version: 1 });
    flip(join(r.dir, 'targets', 'api', 'stable', '1', `${sha256}.app`));
    const channel = r.channel();
    const [release] = await channel.releases('api', 'stable');
    await assert.rejects(channel.download(release!, join(r.base, 'out')), { code: 'RELEASE_REFUSED' });
  });

  for (const role of ['timestamp.json', '2.snapshot.json', '2.targets.json', '1.root.json']) {
    it(`refuses a flipped byte in ${role}`, async () => {
      const r = repo();
      publish(r.dir, r.keys, r.file('app', 'v1'), { service: 'api', channel: 'stable', version: 1 });
      const path = join(r.dir, 'metadata', role);
      // A signature byte: the JSON stays valid, the signature does not.
      const text = readFileSync(path, 'utf8');
      const sig = text.indexOf('"sig": "') + 8;
      writeFileSync(path, text.slice(0, sig) + (text[sig] === 'a' ? 'b' : 'a') + text.slice(sig + 1));
      if (role === '1.root.json') {
        // The client trusts its own copy of root: a tampered repository root is not read at all; a tampered root *update* is.
        writeFileSync(join(r.dir, 'metadata', '2.root.json'), readFileSync(path));
      }
      await assert.rejects(r.channel().releases('api', 'stable'), { code: 'RELEASE_REFUSED' });
    });
  }

  it('refuses metadata signed with a key root does not trust', async () => {
    const r = repo();
    const other = repo();
    // The other repository's timestamp key signs this one's timestamp.
    expire(r.dir, other.keys, DAY);
    await assert.rejects(r.channel().releases('api', 'stable'), { code: 'RELEASE_REFUSED', message: /timestamp/i });
  });

  it('refuses an older timestamp put back (rollback) once a newer one was seen', async () => {
    const r = repo();
    publish(r.dir, r.keys, r.file('app', 'v1'), { service: 'api', channel: 'stable', version: 1 });
    const old = readFileSync(join(r.dir, 'metadata', 'timestamp.json'));
    publish(r.dir, r.keys, r.file('app', 'v2'), { service: 'api', channel: 'stable', version: 2 });
    const channel = r.channel();
    assert.equal((await channel.releases('api', 'stable'))[0]?.version, 2);
    writeFileSync(join(r.dir, 'metadata', 'timestamp.json'), old);
    await assert.rejects(channel.releases('api', 'stable'), { code: 'RELEASE_REFUSED', message: /version/i });
  });

  it('accepts a timestamp just before its expiry and refuses it just after', async () => {
    const r = repo();
    const signedAt = (msBeforeExpiry: number) => new Date(Date.now() - DAY + msBeforeExpiry);
    expire(r.dir, r.keys, DAY, signedAt(60_000));
    assert.deepEqual(await r.channel().releases('api', 'stable'), []);
    expire(r.dir, r.keys, DAY, signedAt(-60_000));
    await assert.rejects(r.channel().releases('api', 'stable'), { code: 'RELEASE_REFUSED', message: /expired/i });
  });

  it('refuses a repository replaced by one with other keys (mix-and-match)', async () => {
    const r = repo();
    const other = repo();
    publish(other.dir, other.keys, other.file('app', 'evil'), { service: 'api', channel: 'stable', version: 99 });
    const channel = r.channel();
    await channel.releases('api', 'stable');
    rmSync(r.dir, { recursive: true });
    cpSync(other.dir, r.dir, { recursive: true });
    await assert.rejects(channel.releases('api', 'stable'), { code: 'RELEASE_REFUSED' });
  });

  it('walks root rotations: a client three roots behind catches up, and a rotated targets key signs from then on', async () => {
    const r = repo();
    publish(r.dir, r.keys, r.file('app', 'v1'), { service: 'api', channel: 'stable', version: 1 });
    const behind = r.channel();
    assert.equal((await behind.releases('api', 'stable'))[0]?.version, 1);
    rotateRoot(r.dir, r.keys);
    rotateRoot(r.dir, r.keys, { rootThreshold: 2 });
    assert.deepEqual(rotateRoot(r.dir, r.keys, { also: ['targets'] }), { version: 4 });
    publish(r.dir, r.keys, r.file('app', 'v2'), { service: 'api', channel: 'stable', version: 2 });
    assert.equal((await behind.releases('api', 'stable'))[0]?.version, 2, 'from root 1 through 2, 3 and 4');
    assert.equal((await r.channel().releases('api', 'stable'))[0]?.version, 2, 'a fresh client given only root 1');
    assert.ok(readdirSync(join(r.keys, 'retired')).includes('v3-targets.key'));
  });

  it('refuses a new root signed by the new keys only (not a threshold of the old)', async () => {
    const r = repo();
    const client = r.channel();
    await client.releases('api', 'stable');
    const other = repo();
    // Root 2 that names other's keys and is signed only by them: what an attacker who has only new keys could make.
    const own = Metadata.fromJSON('root' as never, JSON.parse(readFileSync(join(r.dir, 'metadata', '1.root.json'), 'utf8'))) as unknown as Metadata<Root>;
    const theirs = Metadata.fromJSON('root' as never, JSON.parse(readFileSync(join(other.dir, 'metadata', '1.root.json'), 'utf8'))) as unknown as Metadata<Root>;
    const forged = new Metadata(Root.fromJSON({ ...(theirs.signed.toJSON() as object), version: 2, expires: own.signed.expires }));
    forged.sign(loadKey(other.keys, 'root').sign);
    writeFileSync(join(r.dir, 'metadata', '2.root.json'), JSON.stringify(forged.toJSON()));
    await assert.rejects(client.releases('api', 'stable'), { code: 'RELEASE_REFUSED', message: /root/i });
  });

  it('cuts an endless artifact and an endless metadata file at their caps', async () => {
    const r = repo();
    const { sha256 } = publish(r.dir, r.keys, r.file('app', 'short'), { service: 'api', channel: 'stable', version: 1 });
    writeFileSync(join(r.dir, 'targets', 'api', 'stable', '1', `${sha256}.app`), Buffer.alloc(4 * 1024 * 1024, 1));
    const channel = r.channel();
    const [release] = await channel.releases('api', 'stable');
    await assert.rejects(channel.download(release!, join(r.base, 'out')), { code: 'RELEASE_REFUSED', message: /length|max/i });
    writeFileSync(join(r.dir, 'metadata', 'timestamp.json'), `{"signed": "${'x'.repeat(1024 * 1024)}"}`);
    await assert.rejects(r.channel().releases('api', 'stable'), { code: 'RELEASE_REFUSED', message: /length|max/i });
  });

  it('refuses a root below its threshold: two root keys required, one signed', async () => {
    const r = repo();
    rotateRoot(r.dir, r.keys, { rootThreshold: 2 });
    const client = r.channel();
    await client.releases('api', 'stable');
    const two = JSON.parse(readFileSync(join(r.dir, 'metadata', '2.root.json'), 'utf8'));
    const next = new Metadata(Root.fromJSON({ ...two.signed, version: 3 }));
    next.sign(loadKey(r.keys, 'root', 1).sign);
    writeFileSync(join(r.dir, 'metadata', '3.root.json'), JSON.stringify(next.toJSON()));
    await assert.rejects(client.releases('api', 'stable'), { code: 'RELEASE_REFUSED', message: /threshold|root/i });
  });
});
