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
        } catch (error) {
          reject(error);
        }
      });
    });
    req.once('error', (error: NodeJS.ErrnoException) => {
      reject(
        error.code === 'ENOENT' || error.code === 'ECONNREFUSED'
          ? new AirlockError('CONTROL_UNREACHABLE', `no airlock is running here (${socketPath}: ${error.code})`)
          : error,
      );
    });
    req.end();
  });
}
