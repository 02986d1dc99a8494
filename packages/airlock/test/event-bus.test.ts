import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EventBus, type AirlockEvent } from '../src/events.ts';

describe('the event bus keeps its subscribers apart', () => {
  it('a subscriber that throws hurts neither the emitter nor the others: it is unsubscribed and the others hear why', () => {
    const bus = new EventBus();
    const heard: AirlockEvent[] = [];
    bus.subscribe((event) => heard.push(event));
    let calls = 0;
    bus.subscribe(() => {
      calls += 1;
      throw new Error('dashboard bug');
    }, 'dashboard');
    const after: AirlockEvent[] = [];
    bus.subscribe((event) => after.push(event));
    assert.doesNotThrow(() => bus.emit({ type: 'notice', service: 'api', message: 'one' }));
    bus.emit({ type: 'notice', service: 'api', message: 'two' });
    assert.equal(calls, 1, 'unsubscribed after its throw');
    assert.deepEqual(after.map((e) => (e.type === 'notice' ? e.message : e.type)), ['one', 'error', 'two'], 'the others heard everything, in order');
    const error = heard.find((e) => e.type === 'error');
    assert.ok(error?.type === 'error');
    assert.equal(error.code, 'AIRLOCK_ERR_INTERNAL');
    assert.match(error.message, /^the event subscriber "dashboard" threw on notice; it is unsubscribed, airlock goes on: Error: dashboard bug/);
  });
});
