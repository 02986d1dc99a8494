import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { AirlockRun, CLI, cleanupAfter, freePort, removeProject, tempProject } from './helpers.ts';
import { Load } from '../../scripts/http-load.ts';

/** docs/quickstart.md, step by step: an existing Go service that takes its address from a flag. */
const mainGo = (port: number, greeting: string) => `package main

import (
\t"flag"
\t"fmt"
\t"log"
\t"net/http"
)

var httpAddr = flag.String("http", "localhost:${port}", "Listen address")

func main() {
\tflag.Parse()
\thttp.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "${greeting}") })
\tlog.Fatal(http.ListenAndServe(*httpAddr, nil))
}
`;

describe('docs/quickstart.md', () => {
  const cleanup = cleanupAfter();

  it('init reads the -http flag and writes a proxy config; dev then reloads edits under load without a failed request', async () => {
    const dir = tempProject();
    cleanup(() => removeProject(dir));
    const port = await freePort();
    writeFileSync(join(dir, 'go.mod'), 'module example.com/hello\n\ngo 1.19\n');
    writeFileSync(join(dir, 'main.go'), mainGo(port, 'hello v1'));

    const init = spawnSync(process.execPath, [CLI, 'init'], { cwd: dir, encoding: 'utf8' });
    assert.equal(init.status, 0, init.stderr);
    assert.ok(
      init.stdout.includes(`note: main.go:10: the app takes its address from -http: airlock serves 127.0.0.1:${port} and starts each version with -http=127.0.0.1:{port} (handoff: proxy, no dropped requests)`),
      init.stdout,
    );
    const service = parse(readFileSync(join(dir, 'airlock.yaml'), 'utf8')).services.hello;
    assert.deepEqual(service.run, { cmd: '{artifact} -http=127.0.0.1:{port}' });
    assert.equal(service.listen, `127.0.0.1:${port}`);
    assert.equal(service.handoff, 'proxy');

    const run = new AirlockRun(['dev', '--log-format', 'json'], dir);
    cleanup(() => run.kill());
    await run.waitForEvent('reload.ready', { generation: 1 }, 120_000);
    const load = new Load(port);
    cleanup(() => load.stop());
    await load.until('hello v1\n');
    for (let i = 2; i <= 6; i++) {
      const since = run.events.length;
      writeFileSync(join(dir, 'main.go'), mainGo(port, `hello v${i}`));
      await run.waitForEvent('reload.ready', {}, 60_000, since);
      await load.until(`hello v${i}\n`);
    }
    await load.stop();
    assert.deepEqual(load.failures, [], `${load.failures.length} failed of ${load.ok + load.failures.length}`);
    assert.equal((await run.interrupt()).code, 0);
  });

  it('says where an app binds a fixed address and what to change', () => {
    const dir = tempProject();
    cleanup(() => removeProject(dir));
    writeFileSync(join(dir, 'go.mod'), 'module example.com/hello\n\ngo 1.19\n');
    writeFileSync(join(dir, 'main.go'), 'package main\n\nimport "net/http"\n\nfunc main() {\n\thttp.ListenAndServe(":8080", nil)\n}\n');
    const init = spawnSync(process.execPath, [CLI, 'init'], { cwd: dir, encoding: 'utf8' });
    assert.equal(init.status, 0, init.stderr);
    assert.ok(init.stdout.includes('note: main.go:6: the app binds :8080 itself, so two versions cannot run at once and each reload has a gap; make it listen on $PORT'), init.stdout);
    assert.equal(parse(readFileSync(join(dir, 'airlock.yaml'), 'utf8')).services.hello.handoff, 'restart');
  });
});
