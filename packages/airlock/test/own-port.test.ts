import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { goOwnPort, nodeOwnPort } from '../src/config/presets/own-port.ts';

const root = mkdtempSync(join(tmpdir(), 'airlock-own-port-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
function project(files: Record<string, string>): string {
  const dir = join(root, String(n++));
  mkdirSync(dir);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

describe('how an app picks its port (airlock init)', () => {
  it('finds an address flag (golang/example outyet: -http localhost:8080)', () => {
    const dir = project({ 'main.go': 'package main\n\nvar (\n\thttpAddr = flag.String("http", "localhost:8080", "Listen address")\n)\n' });
    assert.deepEqual(goOwnPort(dir, dir), { kind: 'flag', flag: 'http', takes: 'address', port: 8080, where: 'main.go:4' });
  });

  it('finds a port flag, given as an Int or IntVar', () => {
    const dir = project({ 'main.go': 'package main\nfunc init() { flag.IntVar(&port, "port", 9000, "port") }\n' });
    assert.deepEqual(goOwnPort(dir, dir), { kind: 'flag', flag: 'port', takes: 'port', port: 9000, where: 'main.go:2' });
  });

  it('finds $PORT, and a literal address as the last resort', () => {
    const env = project({ 'main.go': 'package main\nfunc main() { http.ListenAndServe(":"+os.Getenv("PORT"), nil) }\n' });
    assert.equal(goOwnPort(env, env)?.kind, 'env');
    const literal = project({ 'main.go': 'package main\nfunc main() {\n\tlog.Fatal(http.ListenAndServe(":8081", nil))\n}\n', 'main_test.go': 'package main\n// os.Getenv("PORT") in a test does not count\n' });
    assert.deepEqual(goOwnPort(literal, literal), { kind: 'literal', address: ':8081', port: 8081, where: 'main.go:3' });
  });

  it('finds a fixed address held in a variable or a constant, or in an http.Server', () => {
    const variable = project({ 'main.go': 'package main\nfunc main() {\n\taddr := ":8080"\n\tmux := http.NewServeMux()\n\thttp.ListenAndServe(addr, mux)\n}\n' });
    assert.deepEqual(goOwnPort(variable, variable), { kind: 'literal', address: ':8080', port: 8080, where: 'main.go:5' });
    const constant = project({ 'main.go': 'package main\nconst listenAddr = "127.0.0.1:9090"\nfunc main() { log.Fatal(http.ListenAndServe(listenAddr, nil)) }\n' });
    assert.deepEqual(goOwnPort(constant, constant), { kind: 'literal', address: '127.0.0.1:9090', port: 9090, where: 'main.go:3' });
    const server = project({ 'main.go': 'package main\nfunc main() {\n\tsrv := &http.Server{Addr: ":7070", Handler: mux}\n\tsrv.ListenAndServe()\n}\n' });
    assert.deepEqual(goOwnPort(server, server), { kind: 'literal', address: ':7070', port: 7070, where: 'main.go:3' });
    const unknown = project({ 'main.go': 'package main\nfunc main() { http.ListenAndServe(cfg.Addr, nil) }\n' });
    assert.equal(goOwnPort(unknown, unknown), undefined, 'an address from elsewhere is not guessed');
  });

  it('reads Node: process.env.PORT with a fallback, or app.listen(3000)', () => {
    assert.deepEqual(nodeOwnPort(project({ 'server.js': 'const port = process.env.PORT || 4000;\napp.listen(port);\n' })), { kind: 'env', port: 4000, where: 'server.js:1' });
    assert.deepEqual(nodeOwnPort(project({ 'index.js': "const app = express();\napp.listen(3000, () => console.log('up'));\n" })), { kind: 'literal', address: ':3000', port: 3000, where: 'index.js:2' });
    assert.equal(nodeOwnPort(project({ 'index.js': 'console.log(1)\n' })), undefined);
  });
});
