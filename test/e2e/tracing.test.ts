import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { AirlockRun, removeProject, tempProject, cleanupAfter } from './helpers.ts';

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
}

/** A minimal OTLP/HTTP receiver: collects the spans of every JSON export request. */
function receiver(): Promise<{ server: Server; port: number; spans: OtlpSpan[] }> {
  const spans: OtlpSpan[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      if (req.url === '/v1/traces') {
        const json = JSON.parse(body) as { resourceSpans: { scopeSpans: { spans: OtlpSpan[] }[] }[] };
        for (const resource of json.resourceSpans) for (const scope of resource.scopeSpans) spans.push(...scope.spans);
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, port: (server.address() as { port: number }).port, spans })));
}

describe('OpenTelemetry traces of reloads', () => {
  const cleanup = cleanupAfter();

  it('exports one trace per reload with a span per phase, and gives the generation a matching TRACEPARENT', async () => {
    const otlp = await receiver();
    cleanup(() => otlp.server.close());
    const dir = tempProject();
    cleanup(() => removeProject(dir));
    writeFileSync(
      join(dir, 'airlock.yaml'),
      'services:\n  job:\n    build: { cmd: "true" }\n    run: { cmd: "echo traceparent=$TRACEPARENT; exec sleep 60" }\n',
    );
    const run = new AirlockRun(['run', '--log-format', 'json'], dir, { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${otlp.port}` });
    cleanup(() => run.kill());
    await run.waitForEvent('reload.ready', { generation: 1 }, 30_000);
    run.child.kill('SIGHUP');
    await run.waitForEvent('reload.ready', { generation: 2 }, 30_000);
    const started = run.events.filter((e) => e.type === 'reload.started');
    assert.equal(started.length, 2);
    await run.waitForLine(new RegExp(`traceparent=00-${String(started[1]?.traceId)}`), 30_000, 0);
    const seen = run.lines.map((line) => /traceparent=([0-9a-f-]+)/.exec(line)?.[1]).filter((value): value is string => value !== undefined);
    assert.deepEqual(
      seen,
      started.map((e) => `00-${String(e.traceId)}-${String(e.spanId)}-01`),
      'each generation saw its reload’s trace context',
    );
    assert.equal((await run.interrupt()).code, 0); // stopping flushes the exporter

    const roots = otlp.spans.filter((span) => span.name === 'reload job');
    assert.deepEqual(roots.map((span) => [span.traceId, span.spanId]), started.map((e) => [e.traceId, e.spanId]));
    for (const root of roots) {
      const phases = otlp.spans.filter((span) => span.traceId === root.traceId && span.parentSpanId === root.spanId).map((span) => span.name);
      assert.deepEqual(phases, ['detect', 'build', 'stop', 'start', 'ready', 'swap'].filter((phase) => phases.includes(phase)), 'in pipeline order');
      assert.ok(phases.includes('build') && phases.includes('start'), phases.join(', '));
    }
  });
});
