import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fillTemplate } from '../src/supervise/template.ts';
import { announcedPort, programWords, underDelve, underInspector } from '../src/debug/wrap.ts';

describe('wrapping a generation in a debugger', () => {
  it('reads the program and arguments of a plain command, also with a quoted project path', () => {
    assert.deepEqual(programWords('/p/.airlock/bin/api -v'), ['/p/.airlock/bin/api', '-v']);
    assert.deepEqual(programWords(fillTemplate('{artifact} --name x', { artifact: "/home/me/go proj/it's/bin" })), ["/home/me/go proj/it's/bin", '--name', 'x']);
    assert.equal(programWords('app | tee log'), undefined, 'a pipeline is no program dlv can exec');
    assert.equal(programWords('FOO=$BAR app'), undefined);
  });

  it('runs the program under dlv exec on a port the kernel picks, and reads back as the same words', () => {
    const line = underDelve(["/home/me/go proj/bin", '-v']);
    assert.equal(line, "dlv exec --headless --accept-multiclient --continue --api-version=2 --listen=127.0.0.1:0 '/home/me/go proj/bin' -- -v");
    assert.deepEqual(programWords(line)?.slice(-3), ['/home/me/go proj/bin', '--', '-v']);
    assert.equal(underDelve(['/bin/app']), 'dlv exec --headless --accept-multiclient --continue --api-version=2 --listen=127.0.0.1:0 /bin/app');
  });

  it('gives node its inspector flag, or NODE_OPTIONS when another program starts node', () => {
    assert.deepEqual(underInspector('node server.js', {}), { command: 'node --inspect=127.0.0.1:0 server.js', env: {} });
    assert.deepEqual(underInspector('npm start', { NODE_OPTIONS: '--enable-source-maps' }), { command: 'npm start', env: { NODE_OPTIONS: '--enable-source-maps --inspect=127.0.0.1:0' } });
  });

  it("reads the private port from the debugger's first line", () => {
    assert.equal(announcedPort('API server listening at: 127.0.0.1:39367'), 39367);
    assert.equal(announcedPort('Debugger listening on ws://127.0.0.1:41234/0f6c-11'), 41234);
    assert.equal(announcedPort('serving on 127.0.0.1:8080'), undefined);
  });
});
