import { request } from 'node:http';
import { fail, pass, type Probe } from './probe.js';

/**
 * GET path on the generation's own address. Ready on the expected status, or on any
 * 2xx/3xx when none is set.
 *
 * @example
 *   const probe = httpProbe('127.0.0.1', 40123, '/healthz', undefined, 500);
 *   await probe(); // { ok: true, detail: 'GET /healthz → 200' }
 */
export function httpProbe(host: string, port: number, path: string, status: number | undefined, timeoutMs: number): Probe {
  return () =>
    new Promise((resolve) => {
      const req = request({ host, port, path, method: 'GET', agent: false, timeout: timeoutMs, headers: { 'user-agent': 'airlock-probe' } }, (res) => {
        res.resume();
        const code = res.statusCode ?? 0;
        const ok = status === undefined ? code >= 200 && code < 400 : code === status;
        const detail = `GET ${path} → ${code}${ok ? '' : status === undefined ? ' (expected 2xx or 3xx)' : ` (expected ${status})`}`;
        resolve(ok ? pass(detail) : fail(detail));
      });
      req.once('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
      req.once('error', (error) => resolve(fail(`GET ${path}: ${error.message}`)));
      req.end();
    });
}
