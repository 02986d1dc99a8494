import { fail, pass, type Probe } from './probe.js';

/** @grpc/grpc-js loads when a gRPC probe first runs: most services never need it, and it costs ~50 ms at start-up. */
let grpc: Promise<typeof import('@grpc/grpc-js')> | undefined;

/*
 * grpc.health.v1.Health/Check. The two messages are tiny, so they are encoded here
 * rather than loading health.proto at run time:
 *   HealthCheckRequest  { string service = 1; }
 *   HealthCheckResponse { ServingStatus status = 1; }  // UNKNOWN 0, SERVING 1, NOT_SERVING 2, SERVICE_UNKNOWN 3
 */
const STATUS = ['UNKNOWN', 'SERVING', 'NOT_SERVING', 'SERVICE_UNKNOWN'];

function varint(value: number): number[] {
  const bytes: number[] = [];
  let rest = value;
  while (rest > 0x7f) {
    bytes.push((rest & 0x7f) | 0x80);
    rest >>>= 7;
  }
  bytes.push(rest);
  return bytes;
}

export function encodeRequest(service: string): Buffer {
  if (service === '') return Buffer.alloc(0);
  const name = Buffer.from(service, 'utf8');
  return Buffer.concat([Buffer.from([0x0a, ...varint(name.length)]), name]);
}

/** Reads field 1 (varint) of HealthCheckResponse; other fields are skipped. */
export function decodeStatus(bytes: Buffer): number {
  let i = 0;
  const readVarint = () => {
    let value = 0;
    let shift = 0;
    for (;;) {
      const byte = bytes[i++] ?? 0;
      value |= (byte & 0x7f) << shift;
      if ((byte & 0x80) === 0 || i >= bytes.length) return value;
      shift += 7;
    }
  };
  let status = 0;
  while (i < bytes.length) {
    const key = readVarint();
    const wire = key & 7;
    if (key >>> 3 === 1 && wire === 0) status = readVarint();
    else if (wire === 0) readVarint();
    else if (wire === 2) i += readVarint();
    else if (wire === 1) i += 8;
    else if (wire === 5) i += 4;
    else break;
  }
  return status;
}

/**
 * Ready when the standard gRPC health service answers SERVING for `service` ('' is the
 * whole server).
 */
export function grpcProbe(host: string, port: number, service: string, timeoutMs: number): Probe {
  return async () => {
    const { Client, credentials } = await (grpc ??= import('@grpc/grpc-js'));
    return new Promise((resolve) => {
      const client = new Client(`${host}:${port}`, credentials.createInsecure());
      client.makeUnaryRequest(
        '/grpc.health.v1.Health/Check',
        encodeRequest,
        decodeStatus,
        service,
        { deadline: Date.now() + timeoutMs },
        (error, status) => {
          client.close();
          if (error) resolve(fail(`grpc health ${JSON.stringify(service)}: ${error.details || error.message}`));
          else if (status === 1) resolve(pass(`grpc health ${JSON.stringify(service)}: SERVING`));
          else resolve(fail(`grpc health ${JSON.stringify(service)}: ${STATUS[status ?? 0] ?? status}`));
        },
      );
    });
  };
}
