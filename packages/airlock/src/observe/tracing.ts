import { ROOT_CONTEXT, SpanStatusCode, trace } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor, type IdGenerator } from '@opentelemetry/sdk-trace-base';
import { randomBytes } from 'node:crypto';
import { PHASES, type EventBus } from '../events.js';

/**
 * Span ids the SDK would make up, unless the next ones were set: the reload's root span
 * must carry the trace and span id airlock already gave the generation as TRACEPARENT.
 */
class PresetIds implements IdGenerator {
  #traceId: string | undefined;
  #spanId: string | undefined;

  /** The ids the next root span gets (the SDK asks for them in either order). */
  set next(ids: { traceId: string; spanId: string }) {
    this.#traceId = ids.traceId;
    this.#spanId = ids.spanId;
  }

  generateTraceId(): string {
    const preset = this.#traceId;
    this.#traceId = undefined;
    return preset ?? randomBytes(16).toString('hex');
  }

  generateSpanId(): string {
    const preset = this.#spanId;
    this.#spanId = undefined;
    return preset ?? randomBytes(8).toString('hex');
  }
}

/**
 * OpenTelemetry traces of reloads, exported over OTLP/HTTP (OTEL_EXPORTER_OTLP_ENDPOINT,
 * read by the exporter): one trace per reload, a root span `reload <service>` and one
 * child span per phase, with the times airlock measured. Fed only by events.
 *
 * @example
 *   if (process.env.OTEL_EXPORTER_OTLP_ENDPOINT) tracing = subscribeTracing(bus);
 */
export function subscribeTracing(bus: EventBus) {
  const ids = new PresetIds();
  const provider = new BasicTracerProvider({
    idGenerator: ids,
    resource: resourceFromAttributes({ 'service.name': 'airlock' }),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter(), { scheduledDelayMillis: 200 })],
  });
  const tracer = provider.getTracer('airlock');
  const contexts = new Map<string, { traceId: string; spanId: string; startedAt: number }>();
  const key = (service: string, generation: number) => `${service}/${generation}`;

  const unsubscribe = bus.subscribe((event) => {
    if (event.type === 'reload.started') {
      contexts.set(key(event.service, event.generation), { traceId: event.traceId, spanId: event.spanId, startedAt: Date.now() });
      return;
    }
    if (event.type !== 'reload.ready' && event.type !== 'build.failed' && event.type !== 'reload.failed') return;
    const context = contexts.get(key(event.service, event.generation));
    if (!context) return;
    contexts.delete(key(event.service, event.generation));
    const end = Date.now();
    const start = event.type === 'reload.ready' ? end - event.totalMs : context.startedAt;
    ids.next = context;
    const root = tracer.startSpan(`reload ${event.service}`, {
      root: true,
      startTime: start,
      attributes: { 'airlock.service': event.service, 'airlock.generation': event.generation },
    });
    if (event.type === 'reload.ready') {
      root.setAttribute('airlock.reason', event.reason.join(', '));
      const parent = { traceId: context.traceId, spanId: context.spanId, traceFlags: 1 };
      let cursor = start;
      for (const phase of PHASES) {
        const ms = event.phases[phase];
        if (ms === undefined) continue;
        const span = tracer.startSpan(phase, { startTime: cursor }, trace.setSpanContext(ROOT_CONTEXT, parent));
        cursor += ms;
        span.end(cursor);
      }
    } else {
      root.setStatus({ code: SpanStatusCode.ERROR, message: event.message });
    }
    root.end(end);
  }, 'tracing');

  return {
    async close(): Promise<void> {
      unsubscribe();
      await provider.forceFlush();
      await provider.shutdown();
    },
  };
}
