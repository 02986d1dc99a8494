import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CommandQueue } from '../src/pipeline/command-queue.ts';

/** A handler that records what it handled; `wait` commands await the given promise. */
function recorder() {
  const seen: string[] = [];
  const gates = new Map<string, Promise<void>>();
  const queue: CommandQueue<string, string> = new CommandQueue<string, string>((command) => {
    seen.push(`start ${command}`);
    if (command === 'boom') throw new Error('boom failed');
    if (command.startsWith('nested:')) void queue.send(command.slice('nested:'.length));
    const gate = gates.get(command);
    if (gate) return gate.then(() => (seen.push(`end ${command}`), `done ${command}`));
    seen.push(`end ${command}`);
    return `done ${command}`;
  }, 'closed');
  return { queue, seen, gates };
}

describe('CommandQueue: one owner, commands in order', () => {
  it('handles a command sent to an idle queue at once, inside send', () => {
    const { queue, seen } = recorder();
    void queue.send('exit');
    assert.deepEqual(seen, ['start exit', 'end exit']);
  });

  it('makes a command wait until the one before it is done, awaits included', async () => {
    const { queue, seen, gates } = recorder();
    let open!: () => void;
    gates.set('update', new Promise<void>((resolve) => (open = resolve)));
    const update = queue.send('update');
    const exit = queue.send('exit');
    assert.deepEqual(seen, ['start update']);
    assert.equal(queue.busy, true);
    open();
    assert.deepEqual(await Promise.all([update, exit]), ['done update', 'done exit']);
    assert.deepEqual(seen, ['start update', 'end update', 'start exit', 'end exit']);
    assert.equal(queue.busy, false);
  });

  it('handles a command sent from inside a handler as part of it (a rollout verb that promotes)', () => {
    const { queue, seen } = recorder();
    void queue.send('nested:promoted');
    assert.deepEqual(seen, ['start nested:promoted', 'start promoted', 'end promoted', 'end nested:promoted']);
  });

  it('keeps going after a handler throws: only that ticket fails', async () => {
    const { queue } = recorder();
    const failed = queue.send('boom');
    const next = queue.send('exit');
    await assert.rejects(failed, /boom failed/);
    assert.equal(await next, 'done exit');
  });

  it('refuses commands once closed, and settles those still waiting', async () => {
    const { queue, seen, gates } = recorder();
    let open!: () => void;
    gates.set('update', new Promise<void>((resolve) => (open = resolve)));
    const update = queue.send('update');
    const waiting = queue.send('reload');
    queue.close();
    assert.equal(await waiting, 'closed');
    assert.equal(await queue.send('reload'), 'closed');
    open();
    assert.equal(await update, 'done update');
    assert.deepEqual(seen, ['start update', 'end update']);
  });
});
