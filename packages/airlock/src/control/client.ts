import { request } from 'node:http';
import { AirlockError } from '../errors.js';

/**
 * One request to a running airlock's control socket; resolves with the parsed JSON body.
 *
 * @example
 *   const { services } = await controlRequest(socket, 'GET', '/status');
 */
export function controlRequest<T>(socketPath: string, method: 'GET' | 'POST', path: string): Promise<{ status: number; body: T }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, method, path }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => {
        try {
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as T });
        } catch {
          reject(new AirlockError('CONTROL_BUSY', `the control socket ${socketPath} answered ${res.statusCode} without a JSON body: it may be busy, or another program`));
        }
      });
    });
    req.once('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT' || error.code === 'ECONNREFUSED') {
        return reject(new AirlockError('CONTROL_UNREACHABLE', `no airlock is running here (${socketPath}: ${error.code})`));
      }
      // airlock answered the connection and cut it: too many clients hold it (event streams, stuck requests).
      if (error.code === 'EPIPE' || error.code === 'ECONNRESET' || error.message === 'socket hang up') {
        return reject(new AirlockError('CONTROL_BUSY', `the control socket ${socketPath} closed the connection before answering (${error.code ?? error.message}): it is busy`));
      }
      reject(error);
    });
    req.end();
  });
}
