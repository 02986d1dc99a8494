import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { crashLocation, explainStartFailure } from '../src/health/diagnose.ts';

const proxy = { listen: { host: '127.0.0.1', port: 8080 }, handoff: 'proxy' as const };

/** What Node prints for an unhandled EADDRINUSE, as the last 20 lines airlock keeps: the "Error:" line is cut off. */
const NODE_TAIL = [
  '    at listenInCluster (node:net:1965:12)',
  '    at Server.listen (node:net:2067:7)',
  '    at Object.<anonymous> (/app/server.js:4:8)',
  '    at Module._compile (node:internal/modules/cjs/loader:1521:14)',
  '    at Module._extensions..js (node:internal/modules/cjs/loader:1623:10)',
  '    at Module.load (node:internal/modules/cjs/loader:1266:32)',
  '    at Module._load (node:internal/modules/cjs/loader:1091:12)',
  '    at TracingChannel.traceSync (node:diagnostics_channel:322:14)',
  '    at wrapModuleLoad (node:internal/modules/cjs/loader:217:24)',
  "Emitted 'error' event on Server instance at:",
  '    at emitErrorNT (node:net:1944:8)',
  '    at process.processTicksAndRejections (node:internal/process/task_queues:82:21) {',
  "  code: 'EADDRINUSE',",
  '  errno: -98,',
  "  syscall: 'listen',",
  "  address: '::',",
  '  port: 8080',
  '}',
  '',
  'Node.js v20.20.2',
];

describe('why a generation could not start, in the user\'s terms', () => {
  it('names the address a Node app bound from its error object when the "Error:" line is cut off', () => {
    assert.equal(
      explainStartFailure(proxy, NODE_TAIL),
      'the app binds :::8080 (every address, so also 127.0.0.1:8080, which airlock holds for handoff: proxy): make it listen on $PORT (a private port airlock gives each generation)',
    );
    const other = NODE_TAIL.map((line) => line.replace('port: 8080', 'port: 9999'));
    assert.match(explainStartFailure(proxy, other) ?? '', /^port 9999 \(:::9999\) is already in use/);
  });

  it('names the address a Go app bound, not airlock\'s', () => {
    assert.equal(
      explainStartFailure(proxy, ['2026/12/07 listen tcp :8080: bind: address already in use']),
      'the app binds :8080 (every address, so also 127.0.0.1:8080, which airlock holds for handoff: proxy): make it listen on $PORT (a private port airlock gives each generation)',
    );
    assert.equal(
      explainStartFailure(proxy, ['listen tcp 127.0.0.1:8080: bind: address already in use']),
      'the app binds 127.0.0.1:8080 itself, which airlock holds for handoff: proxy: make it listen on $PORT (a private port airlock gives each generation)',
    );
  });

  it('explains an app that exits without a word when its source binds the address airlock holds (the bind error ignored)', () => {
    const own = { kind: 'literal' as const, address: '127.0.0.1:8080', port: 8080, where: 'main.go:12' };
    assert.equal(
      explainStartFailure(proxy, [], () => own),
      'it never listened on $PORT, and main.go:12 binds 127.0.0.1:8080, which airlock holds for handoff: proxy, so that bind failed (an error the code ignores): make it listen on $PORT (a private port airlock gives each generation)',
    );
    assert.equal(explainStartFailure(proxy, [], () => ({ ...own, port: 9000, address: ':9000' })), undefined, 'another port: nothing to say');
    assert.equal(explainStartFailure(proxy, [], () => ({ kind: 'env', port: 8080, where: 'main.go:3' })), undefined);
  });
});

describe('where a crash at start happened', () => {
  it("takes Node's header line and the first frame in the project, not node_modules or Node's own", () => {
    const tail = [
      '/app/server.js:3',
      "  throw new Error('boom');",
      '  ^',
      '',
      'Error: boom',
      '    at Object.<anonymous> (/app/server.js:3:9)',
      '    at Module._compile (node:internal/modules/cjs/loader:1521:14)',
    ];
    assert.equal(crashLocation(tail, '/app'), 'server.js:3:9');
    assert.equal(crashLocation(['    at f (/app/node_modules/x/index.js:1:1)', '    at g (file:///app/src/main.mjs:10:2)'], '/app'), 'src/main.mjs:10:2');
  });

  it("takes a Go panic's first frame in the project", () => {
    const tail = ['panic: boom', '', 'goroutine 1 [running]:', 'main.main()', '\t/app/cmd/api/main.go:12 +0x1d', 'exit status 2'];
    assert.equal(crashLocation(tail, '/app'), 'cmd/api/main.go:12');
    assert.equal(crashLocation(['\t/usr/lib/go/src/runtime/panic.go:5 +0x1'], '/app'), undefined);
  });
});
