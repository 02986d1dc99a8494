import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join, resolve } from 'node:path';

/**
 * Where `file` is as spawn would find it: a path (relative to cwd), or the first
 * executable file of that name on PATH; undefined when there is none.
 *
 * @example
 *   findExecutable('notify-send'); // '/usr/bin/notify-send', or undefined on a server
 */
export function findExecutable(file: string, cwd = process.cwd(), path = process.env.PATH): string | undefined {
  const runnable = (candidate: string) => {
    try {
      accessSync(candidate, constants.X_OK);
      return statSync(candidate).isFile();
    } catch {
      return false;
    }
  };
  if (file.includes('/')) return runnable(resolve(cwd, file)) ? resolve(cwd, file) : undefined;
  return (path ?? '')
    .split(delimiter)
    .filter((dir) => dir !== '')
    .map((dir) => join(dir, file))
    .find(runnable);
}
