import type { NatsLocation } from '../config/release-location.js';
import { natsConnection } from '../release/nats/shared.js';
import type { Heartbeat } from './heartbeat.js';
import { heartbeatReader } from './hosts.js';

/**
 * Every host that beat within the heartbeat TTL, for `airlock fleet status`: one line per
 * host and service, or the heartbeats themselves as JSON.
 *
 * @example
 *   const lines = formatFleet(await fleetStatus(location), new Date());
 */
export async function fleetStatus(location: NatsLocation): Promise<Heartbeat[]> {
  const nc = await natsConnection(location, 'airlock fleet status', false);
  return (await heartbeatReader(nc, location))();
}

export function formatFleet(beats: readonly Heartbeat[], now: Date): string[] {
  if (beats.length === 0) return ['no host has sent a heartbeat in the last 15 s (agents beat every second while they run)'];
  const rows = beats.map((beat) => [
    beat.host,
    beat.service,
    beat.version === undefined ? '-' : `${beat.version}${beat.canary ? ' (canary)' : ''}`,
    beat.state + (beat.message ? `: ${beat.message.slice(0, 60)}` : ''),
    `g${beat.generation ?? '-'}`,
    `${Math.max(0, Math.round((now.getTime() - Date.parse(beat.at)) / 100) / 10)} s ago`,
  ]);
  const header = ['HOST', 'SERVICE', 'RELEASE', 'STATE', 'GEN', 'HEARTBEAT'];
  const widths = header.map((title, i) => Math.max(title.length, ...rows.map((row) => (row[i] as string).length)));
  return [header, ...rows].map((row) => row.map((cell, i) => cell.padEnd(widths[i] as number)).join('  ').trimEnd());
}
