import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { loadConfigFile, parseConfigText } from '../src/config/load.ts';
import { AirlockError } from '../src/errors.ts';
import { fillTemplate } from '../src/supervise/template.ts';
import { commandArgv } from '../src/supervise/command.ts';

const dir = mkdtempSync(join(tmpdir(), 'airlock-edges-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function refusal(text: string): AirlockError {
  try {
    parseConfigText(text, join(dir, 'airlock.yaml'));
  } catch (error) {
    assert.ok(error instanceof AirlockError);
    return error;
  }
  assert.fail('accepted');
}

const service = (extra: string) => `services:\n  api:\n    run: { cmd: app }\n${extra}`;

describe('airlock.yaml at its edges', () => {
  it('refuses durations of 2^31 ms and more (Node would fire them after 1 ms)', () => {
    const error = refusal(service('    proxy: { hold: 600h }\n'));
    assert.equal(error.code, 'CONFIG_INVALID');
    assert.deepEqual(error.details, ['airlock.yaml:4:20: services.api.proxy.hold: "600h" is too long: a duration may be at most 596h (24 days)']);
    assert.doesNotThrow(() => parseConfigText(service('    proxy: { hold: 596h }\n'), join(dir, 'airlock.yaml')));
  });

  it('refuses a probe timeout of 0 (it would never time out)', () => {
    assert.deepEqual(refusal(service('    health: { timeout: 0 }\n')).details, ['airlock.yaml:4:24: services.api.health.timeout: 0 is too short: at least 1ms']);
  });

  it('refuses a listen host that is not an address or a name', () => {
    for (const bad of ['bad host:1', '1.2.3.4.5:80', 'exa_mple.com:80']) {
      const details = refusal(service(`    listen: "${bad}"\n`)).details;
      assert.match(details[0] ?? '', /is not an IP address or host name; use e\.g\. 127\.0\.0\.1:\d+/, bad);
    }
    const ok = parseConfigText(service('    listen: "[::1]:8080"\n'), join(dir, 'airlock.yaml'));
    assert.deepEqual(ok.config.services.api?.listen, { host: '::1', port: 8080 });
    assert.deepEqual(parseConfigText(service('    listen: localhost:80\n'), join(dir, 'airlock.yaml')).config.services.api?.listen, { host: 'localhost', port: 80 });
  });

  it('takes YAML merge keys (<<: *common)', () => {
    const text = `x-common: &common\n  run: { cmd: app }\n  stop: { timeout: 2s }\nservices:\n  api:\n    <<: *common\n    listen: 8080\n`;
    // x-common is not a key of airlock.yaml; merge keys inside services are what users write.
    const inServices = `services:\n  base: &common\n    run: { cmd: app }\n    stop: { timeout: 2s }\n  api:\n    <<: *common\n    listen: 8080\n`;
    assert.equal(refusal(text).code, 'CONFIG_INVALID');
    const loaded = parseConfigText(inServices, join(dir, 'airlock.yaml'));
    assert.equal(loaded.config.services.api?.stop.timeout, 2_000);
    assert.equal(loaded.config.services.api?.run.cmd, 'app');
  });

  it('refuses an alias bomb as a parse error, not an internal one', () => {
    const bomb = ['a: &a ["x","x","x","x","x","x","x","x","x"]'];
    for (let i = 1; i < 10; i++) bomb.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(9).fill(`*${String.fromCharCode(96 + i)}`).join(',')}]`);
    const error = refusal(`${bomb.join('\n')}\nservices: {}\n`);
    assert.equal(error.code, 'CONFIG_PARSE');
    assert.match(error.details[0] ?? '', /^airlock\.yaml:1:1: cannot expand the document: /);
  });

  it('refuses a file that is not UTF-8, naming the line and column', () => {
    const file = join(dir, 'latin1.yaml');
    writeFileSync(file, Buffer.concat([Buffer.from('services:\n  api:\n    run: { cmd: "caf'), Buffer.from([0xe9]), Buffer.from('" }\n')]));
    assert.throws(
      () => loadConfigFile(file),
      (error: unknown) =>
        error instanceof AirlockError &&
        error.code === 'CONFIG_PARSE' &&
        error.details[0] === 'latin1.yaml:3:21: invalid UTF-8 (save the file as UTF-8)',
    );
  });
});

describe('template variables in commands', () => {
  it('quotes a value with a space where it stands, so it stays one word', () => {
    assert.equal(fillTemplate('go build -o {artifact} .', { artifact: '/home/me/go proj/bin/x' }), "go build -o '/home/me/go proj/bin/x' .");
    assert.equal(fillTemplate('app --out "{artifact}"', { artifact: '/a b/$x' }), 'app --out "/a b/\\$x"');
    assert.equal(fillTemplate("app '{artifact}'", { artifact: "/it's" }), "app '/it'\\''s'");
    assert.equal(fillTemplate('{artifact} --port {port}', { artifact: '/plain/path', port: 8080 }), '/plain/path --port 8080');
    assert.equal(fillTemplate('echo {unknown}', { artifact: 'x' }), 'echo {unknown}');
    assert.deepEqual(commandArgv(fillTemplate('{artifact} -v', { artifact: '/a b/app' })), ['/bin/sh', '-c', "exec '/a b/app' -v"]);
  });
});

describe('docs/config.md', () => {
  it('lists exactly the template variables build.cmd and run.cmd get', async () => {
    const { readFileSync } = await import('node:fs');
    const { BUILD_VARIABLES, RUN_VARIABLES } = await import('../src/supervise/template.ts');
    const text = readFileSync(new URL('../../../docs/config.md', import.meta.url), 'utf8').replace(/\s+/g, ' ');
    const listed = (field: string) => {
      const sentence = new RegExp(`Template variables in \`${field}\`: ([^.]*)\\.|In \`${field}\`: ([^.]*)\\.`).exec(text);
      return [...(sentence?.[1] ?? sentence?.[2] ?? '').matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
    };
    assert.deepEqual(listed('build.cmd'), [...BUILD_VARIABLES].sort());
    assert.deepEqual(listed('run.cmd'), [...RUN_VARIABLES].sort());
  });
});

describe('the reload line', () => {
  it('shows where detect went after a change', async () => {
    const { reloadLine } = await import('../src/observe/pretty.ts');
    const base = { type: 'reload.ready', service: 'api', generation: 4, pid: 42, totalMs: 812.4, reason: ['main.go'], probed: true } as const;
    assert.equal(
      reloadLine({ ...base, phases: { detect: 101.2, build: 640, start: 2, ready: 22, swap: 0 }, detectParts: { watcher: 1.2, settle: 98.4, hash: 2.1, graph: 0.2, queued: 0.4 } }),
      'api g4 ready in 812 ms: detect 101 (watcher 1 · settle 98 · hash 2 · graph 0 · queued 0) · build 640 · start 2 · ready 22 · swap 0 (pid 42) ← main.go',
    );
    assert.equal(reloadLine({ ...base, probed: false, phases: { detect: 0, start: 3 }, reason: ['start'] }), 'api g4 started in 812 ms: detect 0 · start 3 (pid 42)');
  });
});

describe('rollout settings', () => {
  const proxied = (rollout: string) => `services:\n  api:\n    run: { cmd: app }\n    listen: 8080\n    rollout:\n${rollout}`;

  it('takes a full canary section and fills in the defaults', () => {
    const config = parseConfigText(proxied('      strategy: canary\n      key: header:X-User-Id\n'), join(dir, 'airlock.yaml'));
    const rollout = config.config.services.api?.rollout;
    assert.deepEqual(rollout?.steps, [1, 10, 50, 100]);
    assert.equal(rollout?.interval, 30_000);
    assert.deepEqual(rollout?.analysis, { maxErrorRate: 0.01, maxP99IncreaseMs: 50, minRequests: 100, failureLimit: 0, confidence: 0.999 });
  });

  it('refuses steps that do not grow, do not end at 100, or are finer than 0.01', () => {
    assert.deepEqual(refusal(proxied('      steps: [10, 5, 100]\n')).details, ['airlock.yaml:6:19: services.api.rollout.steps.1: steps must grow strictly: 5 comes after 10']);
    assert.match(refusal(proxied('      steps: [1, 50]\n')).details?.[0] ?? '', /rollout\.steps\.1: the last step must be 100 \(every user\), got 50/);
    assert.match(refusal(proxied('      steps: [0.005, 100]\n')).details?.[0] ?? '', /0\.005: a step is a percent with at most two decimals/);
  });

  it('refuses a misspelled key, a bad key kind, and a canary without the HTTP proxy', () => {
    assert.match(refusal(proxied('      stratgy: canary\n')).details?.[0] ?? '', /stratgy/);
    assert.match(refusal(proxied('      key: query:uid\n')).details?.[0] ?? '', /rollout\.key: expected header:NAME, cookie:NAME or ip/);
    const tcp = refusal(`services:\n  api:\n    run: { cmd: app }\n    listen: 8080\n    handoff: tcp-proxy\n    rollout: { strategy: canary }\n`);
    assert.match(tcp.details?.[0] ?? '', /rollout\.strategy: a canary splits HTTP requests in airlock's proxy: it needs handoff: proxy \(and listen\), not tcp-proxy/);
  });
});

describe('debug: in airlock.yaml', () => {
  it('asks for one debugger, and refuses delve with a handoff that passes sockets', () => {
    assert.match(refusal(service('    debug: { listen: 2345 }\n')).details.join('\n'), /debug needs delve: true \(Go\) or inspect: true \(Node\)/);
    assert.match(refusal(service('    debug: { delve: true, inspect: true }\n')).details.join('\n'), /choose one debugger/);
    assert.match(refusal(service('    listen: 8080\n    handoff: fd\n    debug: { delve: true }\n')).details.join('\n'), /debug\.delve cannot pass sockets \(handoff: fd\)/);
    assert.match(refusal(service('    debug: { delve: true, listne: 1 }\n')).details.join('\n'), /listne/);
  });
});
