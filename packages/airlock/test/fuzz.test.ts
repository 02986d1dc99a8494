import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { parseConfigText } from '../src/config/load.ts';
import { readEnvFiles } from '../src/config/plan.ts';
import { startControl, type ControlTarget } from '../src/control/server.ts';
import { checkAppConfig } from '../src/live-config/app-config.ts';
import { AirlockError } from '../src/errors.ts';
import { EventBus } from '../src/events.ts';

/**
 * What comes from outside, for a bounded time in every test run: random and mutated
 * documents, requests and files. Nothing may crash; every refusal is a catalog error (or
 * an HTTP status) that says where.
 */
const TIME_LIMIT_MS = 4_000;
const dir = mkdtempSync(join(tmpdir(), 'airlock-fuzz-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const VALID = `services:
  api:
    run: { cmd: "bin/api --port {port}", env: { LOG: debug } }
    listen: 127.0.0.1:8080
    handoff: proxy
    health: { http: { path: /healthz }, interval: 500ms }
    watch: { include: ["**/*.go"], debounce: 50ms }
    stop: { signal: SIGTERM, timeout: 10s }
  worker:
    run: { cmd: worker }
    dependsOn: [api]
metrics: { listen: 9464 }
`;

/** A document with one random edit: a character inserted, deleted or replaced. */
const mutated = fc
  .array(fc.tuple(fc.nat(VALID.length), fc.constantFrom('insert', 'delete', 'replace'), fc.string({ minLength: 1, maxLength: 3, unit: 'binary' })), { minLength: 1, maxLength: 4 })
  .map((edits) => {
    let text = VALID;
    for (const [at, kind, chars] of edits) {
      const i = at % (text.length + 1);
      text = kind === 'insert' ? text.slice(0, i) + chars + text.slice(i) : kind === 'delete' ? text.slice(0, i) + text.slice(i + 1) : text.slice(0, i) + chars + text.slice(i + 1);
    }
    return text;
  });

/** Random YAML values, where airlock.yaml's keys appear often enough to reach its checks. */
const key = fc.constantFrom('services', 'api', 'run', 'cmd', 'listen', 'handoff', 'health', 'http', 'path', 'stop', 'timeout', 'watch', 'debounce', 'dependsOn', 'go', 'main', '<<', 'x');
const yamlValue = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small' }, fc.string(), fc.integer(), fc.double(), fc.boolean(), fc.constant(null), tie('map'), tie('list')),
  map: fc.dictionary(key, tie('value'), { maxKeys: 5 }),
  list: fc.array(tie('value'), { maxLength: 4 }),
})).value;

function checkConfigText(text: string): void {
  try {
    parseConfigText(text, join(dir, 'airlock.yaml'));
  } catch (error) {
    assert.ok(error instanceof AirlockError, `not a catalog error: ${String((error as Error).stack)}`);
    assert.ok(['CONFIG_PARSE', 'CONFIG_INVALID', 'CONFIG_NO_SERVICE'].includes(error.code), error.code);
    for (const detail of error.details) assert.match(detail, /^airlock\.yaml:\d+:\d+: /, `${detail} names no place`);
  }
}

describe('fuzz: airlock.yaml', () => {
  it('a mutated valid document is accepted or refused with file:line:column', () => {
    fc.assert(fc.property(mutated, checkConfigText), { numRuns: 2_000, interruptAfterTimeLimit: TIME_LIMIT_MS });
  });

  it('random documents are accepted or refused with file:line:column', () => {
    fc.assert(
      fc.property(yamlValue, (value) => checkConfigText(stringify({ services: value }))),
      { numRuns: 2_000, interruptAfterTimeLimit: TIME_LIMIT_MS },
    );
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 200 }), checkConfigText), { numRuns: 2_000, interruptAfterTimeLimit: TIME_LIMIT_MS });
  });
});

describe('fuzz: app config and env files', () => {
  const schema = join(dir, 'schema.json');
  before(() => writeFileSync(schema, JSON.stringify({ type: 'object', properties: { port: { type: 'integer' }, name: { type: 'string' } }, required: ['port'] })));

  it('an app config file of any content is a snapshot or a rejection naming the file', async () => {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.string({ unit: 'binary', maxLength: 200 }), yamlValue.map((v) => stringify(v))), fc.constantFrom('config.yaml', 'config.json', '.env'), async (text, name) => {
        const file = join(dir, `${n++}-${name}`);
        writeFileSync(file, text);
        const snapshot = await checkAppConfig({ files: [file], schema }, 0);
        if (!snapshot.ok) {
          assert.equal(snapshot.rejection.file, file);
          assert.equal(typeof snapshot.rejection.message, 'string');
        }
      }),
      { numRuns: 500, interruptAfterTimeLimit: TIME_LIMIT_MS },
    );
  });

  it('an env file of any content is read, or refused as ENV_FILE at its line (never another throw)', () => {
    const file = join(dir, 'fuzz.env');
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 300 }), (text) => {
        writeFileSync(file, text);
        let env: Record<string, string>;
        try {
          env = readEnvFiles([file]);
        } catch (error) {
          assert.ok(error instanceof AirlockError && error.code === 'ENV_FILE', String(error));
          assert.ok(error.message.startsWith(`${file}:`), error.message);
          return;
        }
        for (const value of Object.values(env)) assert.equal(typeof value, 'string');
      }),
      { numRuns: 1_000, interruptAfterTimeLimit: TIME_LIMIT_MS },
    );
  });
});

describe('fuzz: the control API', () => {
  const socketPath = join(dir, 'control.sock');
  let control: { close(): Promise<void> };
  const daemon: ControlTarget = { status: () => [], configRejected: undefined, reload: () => undefined, rollout: async () => ({ status: 409, error: 'no rollout' }) };

  before(async () => {
    control = await startControl(socketPath, daemon, new EventBus());
  });
  after(() => control.close());

  function send(raw: string | Buffer): Promise<string> {
    return new Promise((resolve) => {
      const socket = createConnection(socketPath);
      let answer = '';
      socket.setTimeout(2_000, () => socket.destroy());
      socket.on('data', (chunk) => (answer += chunk.toString('latin1')));
      socket.on('close', () => resolve(answer));
      socket.on('error', () => resolve(answer));
      socket.end(raw);
    });
  }

  const token = fc.string({ unit: 'binary', maxLength: 40 });
  const request = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 300 }),
    fc
      .tuple(
        fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'BREW', ''),
        fc.oneof(fc.constantFrom('/status', '/reload?service=x', '/events', 'http://[::1', '//', '/%zz', '*'), token),
        fc.array(fc.tuple(token, token), { maxLength: 5 }),
        token,
      )
      .map(([method, target, headers, body]) => `${method} ${target} HTTP/1.1\r\nHost: airlock\r\n${headers.map(([k, v]) => `${k}: ${v}\r\n`).join('')}Connection: close\r\n\r\n${body}`),
  );

  it('a malformed request line, header or body gets an HTTP answer or a closed connection, and airlock still answers', async () => {
    await fc.assert(
      fc.asyncProperty(request, async (raw) => {
        const answer = await send(raw);
        if (answer !== '') assert.match(answer, /^HTTP\/1\.1 (200|202|400|404|405|408|413|414|431|500|505) /, answer.slice(0, 80));
        assert.ok(!/^HTTP\/1\.1 500 /.test(answer), 'no internal error');
      }),
      { numRuns: 400, interruptAfterTimeLimit: TIME_LIMIT_MS },
    );
    assert.match(await send('GET /status HTTP/1.1\r\nHost: airlock\r\nConnection: close\r\n\r\n'), /^HTTP\/1\.1 200 /);
  });
});
