import type { EventBus } from '../events.js';

/**
 * `--log-format json`: one JSON object per line, `{ "time", "type", "service", ... }`,
 * the event exactly as the core published it (schema in docs/events.md).
 */
export function subscribeJson(bus: EventBus, write: (line: string, droppable?: boolean) => void): () => void {
  // A child's output may be dropped for a slow reader; airlock's own events are kept longer.
  return bus.subscribe((event) => write(JSON.stringify({ time: new Date().toISOString(), ...event }), event.type === 'process.output' || event.type === 'build.output'), 'the JSON log');
}
