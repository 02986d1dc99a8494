/**
 * Turns a command string into an argv. Plain commands are spawned directly, so the pid
 * airlock holds is the program's own; anything that needs a shell (pipes, &&, $VARS,
 * quotes, globs) runs under /bin/sh -c, still in the generation's process group.
 */
const SHELL_SYNTAX = /[|&;<>()$`\\"'*?[\]#~=%{}!\n]/;

export function commandArgv(command: string): [string, ...string[]] {
  const trimmed = command.trim();
  if (SHELL_SYNTAX.test(trimmed)) return ['/bin/sh', '-c', trimmed];
  const [file, ...args] = trimmed.split(/\s+/);
  return [file ?? '', ...args];
}
