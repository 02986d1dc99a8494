import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { closeFrame, FrameBoundaries } from '../src/proxy/ws-frames.ts';

const HANDSHAKE = Buffer.from('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
const text = (payload: string) => Buffer.concat([Buffer.from([0x81, payload.length]), Buffer.from(payload)]);

describe('WebSocket frame boundaries (server to client)', () => {
  it('skips the handshake, then finds where frames end, across chunks and with 16-bit lengths', () => {
    const frames = new FrameBoundaries();
    assert.equal(frames.feed(HANDSHAKE.subarray(0, 10), false), 10);
    assert.equal(frames.atBoundary, false, 'still in the handshake');
    frames.feed(HANDSHAKE.subarray(10), false);
    assert.equal(frames.atBoundary, true);
    const one = text('hello');
    frames.feed(one.subarray(0, 3), false);
    assert.equal(frames.atBoundary, false, 'inside a frame');
    frames.feed(one.subarray(3), false);
    assert.equal(frames.atBoundary, true);
    const long = Buffer.concat([Buffer.from([0x82, 126, 0x01, 0x00]), Buffer.alloc(256, 7)]);
    frames.feed(long.subarray(0, 100), false);
    assert.equal(frames.atBoundary, false);
    frames.feed(long.subarray(100), false);
    assert.equal(frames.atBoundary, true);
  });

  it('when stopping, passes the frame under way to its end and nothing after it', () => {
    const frames = new FrameBoundaries();
    frames.feed(HANDSHAKE, false);
    const a = text('aaaa');
    const b = text('bb');
    frames.feed(a.subarray(0, 2), false);
    const rest = Buffer.concat([a.subarray(2), b]);
    assert.equal(frames.feed(rest, true), a.length - 2, 'the rest of a, not b');
    assert.equal(frames.atBoundary, true);
  });

  it('writes a close frame with its code and reason', () => {
    const frame = closeFrame(1001, 'going away');
    assert.equal(frame[0], 0x88);
    assert.equal(frame[1], 12);
    assert.equal(frame.readUInt16BE(2), 1001);
    assert.equal(frame.subarray(4).toString(), 'going away');
  });
});
