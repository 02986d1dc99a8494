import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { AirlockError } from '../errors.js';
import { heldBy } from '../supervise/port-owner.js';

/** A listening socket airlock holds for its generations without accepting on it. */
export interface HeldListener {
  readonly host: string;
  readonly port: number;
  /** The descriptor to place at fd 3 (or 4) of a generation. */
  readonly fd: number;
  close(): void;
}

interface NativeHandle {
  fd: number;
  close(callback?: () => void): void;
}

const HELPER = fileURLToPath(new URL('./bind-helper.js', import.meta.url));

/**
 * Binds host:port (port 0 picks a free one) through a short-lived helper and keeps the
 * socket. Connections wait in the kernel's accept queue until a generation accepts them.
 *
 * @example
 *   const held = await holdListener('127.0.0.1', 8080);
 *   spawn(app, [], { stdio: ['ignore', 'pipe', 'pipe', held.fd] });
 */
export async function holdListener(host: string, port: number): Promise<HeldListener> {
  const helper = fork(HELPER, [host, String(port)], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
  // What the helper says on stderr explains an exit without a message; keep only its end.
  let stderr = '';
  helper.stderr?.on('data', (chunk: Buffer) => (stderr = `${stderr}${chunk.toString('utf8')}`.slice(-2_000)));
  helper.stderr?.on('error', () => undefined);
  const [message, handle] = await new Promise<[{ port?: number; error?: string }, NativeHandle | undefined]>((resolve) => {
    helper.once('message', (msg, received) => resolve([msg as { port?: number; error?: string }, received as unknown as NativeHandle]));
    helper.once('error', (error) => resolve([{ error: `bind helper could not run: ${error.message}` }, undefined]));
    helper.once('exit', (code) => resolve([{ error: `bind helper exited with code ${code}${stderr ? `: ${stderr.trim().split('\n').at(-1)}` : ''}` }, undefined]));
  });
  if (message.error !== undefined || handle === undefined || message.port === undefined) {
    const holder = message.error?.startsWith('EADDRINUSE') ? heldBy(port) : '';
    throw new AirlockError('LISTEN_FAILED', `cannot listen on ${host}:${port}: ${message.error ?? 'no socket received'}${holder}`);
  }
  let closed = false;
  return {
    host,
    port: message.port,
    fd: handle.fd,
    close() {
      if (closed) return;
      closed = true;
      handle.close();
    },
  };
}
