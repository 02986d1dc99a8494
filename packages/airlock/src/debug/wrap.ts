import { basename } from 'node:path';
import { commandArgv } from '../supervise/command.js';

/**
 * A command line as sh reads its words, for the forms airlock writes (template values
 * quoted 'a'\''b', plain words): the program and arguments a debugger is to run.
 * undefined when the line needs a shell (pipes, &&, $VARS, redirections): no debugger
 * can exec that.
 */
export function programWords(command: string): string[] | undefined {
  const argv = commandArgv(command);
  if (argv[0] !== '/bin/sh') return argv;
  const line = (argv[2] as string).replace(/^exec /, '');
  const words: string[] = [];
  let word: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const char = line[i] as string;
    if (char === "'") {
      const end = line.indexOf("'", i + 1);
      if (end === -1) return undefined;
      word = (word ?? '') + line.slice(i + 1, end);
      i = end;
    } else if (char === '\\' && i + 1 < line.length) {
      word = (word ?? '') + line[++i];
    } else if (/\s/.test(char)) {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else if (/[|&;<>()$`"*?[\]#~{}!]/.test(char)) {
      return undefined;
    } else word = (word ?? '') + char;
  }
  if (word !== undefined) words.push(word);
  return words.length > 0 ? words : undefined;
}

/** A word quoted for sh, so the wrapped line reads back as these very words. */
function quoted(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/**
 * The command under `dlv exec`, headless, serving many clients, the program running at
 * once, its API on a loopback port the kernel picks (read back from its first line, so
 * no port is ever raced for).
 *
 * @example
 *   underDelve(['/p/.airlock/bin/api', '-v']);
 *   // "dlv exec --headless --accept-multiclient --continue --api-version=2 --listen=127.0.0.1:0 /p/.airlock/bin/api -- -v"
 */
export function underDelve([program, ...args]: readonly string[]): string {
  const dlv = ['dlv', 'exec', '--headless', '--accept-multiclient', '--continue', '--api-version=2', '--listen=127.0.0.1:0', program as string];
  return [...dlv, ...(args.length > 0 ? ['--', ...args] : [])].map(quoted).join(' ');
}

/**
 * The command (or its NODE_OPTIONS) with the inspector on a loopback port the kernel
 * picks: after `node` when the command runs node itself, else in NODE_OPTIONS (npm run,
 * tsx: every node process of the tree then opens one, and the newest is the app's).
 *
 * @example
 *   underInspector('node server.js', {}); // { command: 'node --inspect=127.0.0.1:0 server.js', env: {} }
 */
export function underInspector(command: string, env: Readonly<Record<string, string>>): { command: string; env: Record<string, string> } {
  const words = programWords(command);
  const flag = '--inspect=127.0.0.1:0';
  if (words !== undefined && basename(words[0] as string) === 'node') {
    return { command: [words[0] as string, flag, ...words.slice(1)].map(quoted).join(' '), env: { ...env } };
  }
  return { command, env: { ...env, NODE_OPTIONS: `${env.NODE_OPTIONS ?? ''} ${flag}`.trim() } };
}

/**
 * The private port a debugger announced on its output: delve's "API server listening
 * at: 127.0.0.1:PORT", Node's "Debugger listening on ws://127.0.0.1:PORT/…".
 */
export function announcedPort(line: string): number | undefined {
  const match = /^(?:API server listening at: (?:127\.0\.0\.1|\[::1\]|localhost):(\d+)|Debugger listening on ws:\/\/127\.0\.0\.1:(\d+)\/)/.exec(line.trim());
  const port = Number(match?.[1] ?? match?.[2]);
  return Number.isInteger(port) && port > 0 ? port : undefined;
}
