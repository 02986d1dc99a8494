/**
 * Where WebSocket frames end in a byte stream from the server (RFC 6455 §5.2), so that a
 * close frame can be put between two frames and never inside one. Only lengths are read;
 * payloads pass untouched.
 *
 * @example
 *   const frames = new FrameBoundaries();
 *   const n = frames.feed(chunk, stopping); // forward chunk.subarray(0, n)
 *   if (stopping && frames.atBoundary) client.write(closeFrame(1001, 'going away'));
 */
export class FrameBoundaries {
  #header: number[] = [];
  #payloadLeft = 0;
  /** The server's HTTP answer (101 Switching Protocols) comes first: frames start after its blank line. */
  #inHandshake = true;
  #lineEnd = 0;

  get atBoundary(): boolean {
    return !this.#inHandshake && this.#header.length === 0 && this.#payloadLeft === 0;
  }

  /** Bytes of `chunk` to pass on: all of it, or when `stop`, up to the end of the frame under way. */
  feed(chunk: Uint8Array, stop: boolean): number {
    let i = 0;
    // "\r\n\r\n" ends the handshake, found across chunks by counting its bytes in order.
    while (this.#inHandshake && i < chunk.length) {
      const byte = chunk[i++] as number;
      this.#lineEnd = byte === (this.#lineEnd % 2 === 0 ? 13 : 10) ? this.#lineEnd + 1 : byte === 13 ? 1 : 0;
      if (this.#lineEnd === 4) this.#inHandshake = false;
    }
    while (i < chunk.length) {
      if (stop && this.atBoundary) break;
      if (this.#payloadLeft > 0) {
        const take = Math.min(this.#payloadLeft, chunk.length - i);
        this.#payloadLeft -= take;
        i += take;
        continue;
      }
      this.#header.push(chunk[i] as number);
      i++;
      this.#completeHeader();
    }
    return i;
  }

  #completeHeader(): void {
    const header = this.#header;
    if (header.length < 2) return;
    const len7 = (header[1] as number) & 0x7f;
    const extended = len7 === 126 ? 2 : len7 === 127 ? 8 : 0;
    const mask = (header[1] as number) & 0x80 ? 4 : 0;
    if (header.length < 2 + extended + mask) return;
    let length = len7;
    if (extended > 0) {
      length = 0;
      for (let k = 0; k < extended; k++) length = length * 256 + (header[2 + k] as number);
    }
    this.#header = [];
    this.#payloadLeft = length;
  }
}

/** A server's close frame (unmasked): the status code and a reason of at most 123 bytes. */
export function closeFrame(code: number, reason: string): Buffer {
  const text = Buffer.from(reason).subarray(0, 123);
  const frame = Buffer.alloc(4 + text.length);
  frame[0] = 0x88;
  frame[1] = 2 + text.length;
  frame.writeUInt16BE(code, 2);
  text.copy(frame, 4);
  return frame;
}
