import type { Dispatcher } from 'undici';

/**
 * A handler in the proxy's dispatch chain that passes everything on to the next one, in
 * undici's raw form (router.ts says why); a link of the chain overrides what it acts on.
 *
 * @example
 *   class Counted extends Relay { override onComplete(trailers: string[] | null) { count++; super.onComplete(trailers); } }
 */
export class Relay implements Dispatcher.DispatchHandler {
  constructor(protected readonly next: Dispatcher.DispatchHandler) {}

  onConnect(abort: (error?: Error) => void): void {
    this.next.onConnect?.(abort);
  }

  onHeaders(status: number, headers: Buffer[], resume: () => void, text: string): boolean {
    return this.next.onHeaders?.(status, headers, resume, text) ?? true;
  }

  onData(chunk: Buffer): boolean {
    return this.next.onData?.(chunk) ?? true;
  }

  onComplete(trailers: string[] | null): void {
    this.next.onComplete?.(trailers);
  }

  onError(error: Error): void {
    this.next.onError?.(error);
  }
}
