import type { PluginInstance } from './instance.js';

/** What a plugin's slot offers to a version switch: calls wait on `hold` while state moves. */
export interface Holdable {
  hold: Promise<void> | undefined;
}

/**
 * Makes `next` the active version (`activate`), carrying the old version's state over
 * when both take part (the old exports snapshot(), the new restore()): calls wait while
 * the state moves, so none lands on the old version after its snapshot. The state is a
 * copy whatever the isolation: inline, the old version's objects (and through them its
 * closures) would otherwise outlive it in the new one. Returns why carrying failed (then
 * nothing was activated, and the caller ends `next`).
 *
 * @example
 *   const failed = await switchVersions(slot, slot.active, next, 5_000, () => activate(next));
 */
export async function switchVersions(slot: Holdable, old: PluginInstance | undefined, next: PluginInstance, callMs: number, activate: () => void): Promise<string | undefined> {
  const carries = old !== undefined && old.ended === undefined && typeof next.exports.get('restore') === 'string' && old.exports.get('snapshot') === 'function';
  if (!carries) {
    activate();
    return undefined;
  }
  let release: () => void = () => undefined;
  slot.hold = new Promise((resolve) => (release = resolve));
  try {
    await old.idle();
    const state = structuredClone(await old.request('snapshot', {}, callMs));
    await next.request('restore', { state }, callMs);
  } catch (error) {
    slot.hold = undefined;
    release();
    return `carrying state over: ${(error as Error).message}`;
  }
  activate();
  slot.hold = undefined;
  release();
  return undefined;
}

/**
 * Ends a version that no longer takes calls: it finishes the calls it holds, its stop()
 * runs (its resources released in reverse order), and its worker or process ends.
 * Returns what it left behind, and why stop() failed if it did.
 *
 * @example
 *   const { leftovers, stopError } = await endVersion(old, 5_000);
 */
export async function endVersion(instance: PluginInstance, stopMs: number): Promise<{ leftovers: string[]; stopError?: string }> {
  await instance.idle();
  let ended: { leftovers: string[]; stopError?: string };
  try {
    ended = { leftovers: ((await instance.request('stop', {}, stopMs)) as string[] | undefined) ?? [] };
  } catch (error) {
    ended = { leftovers: [], stopError: `stop: ${(error as Error).message}` };
  }
  await instance.terminate();
  return ended;
}
