/**
 * Turns a command string into an argv. Plain commands are spawned directly, so the pid
 * airlock holds is the program's own; anything that needs a shell (pipes, &&, $VARS,
 * quotes, globs) runs under /bin/sh -c, still in the generation's process group. A
 * single simple command under sh is prefixed with `exec`, so the shell is replaced by the
 * program and signals and exit codes are the program's, not the shell's.
 */
const SHELL_SYNTAX = /[|&;<>()$`\\"'*?[\]#~=%{}!\n]/;
const QUOTED = /'[^']*'|"(?:\\.|[^"\\])*"/g;
const COMPOUND = /[;&|()\n`{}<>]/;
const RESERVED = /^(if|then|else|elif|fi|for|while|until|case|esac|do|done|exec|function|select|time|!|\[\[?)(\s|$)/;
const ASSIGNMENTS = /^((?:[A-Za-z_]\w*=(?:'[^']*'|"(?:\\.|[^"\\])*"|[^\s'"]*)\s+)*)/;

/** `FOO=1 app "x y"` → `FOO=1 exec app "x y"`; compound commands are left alone. */
export function withExec(command: string): string {
  const unquoted = command.replace(QUOTED, 'Q');
  if (COMPOUND.test(unquoted)) return command;
  const assignments = ASSIGNMENTS.exec(command)?.[1] ?? '';
  const rest = command.slice(assignments.length);
  if (rest === '' || RESERVED.test(rest)) return command;
  return `${assignments}exec ${rest}`;
}

export function commandArgv(command: string): [string, ...string[]] {
  const trimmed = command.trim();
  if (SHELL_SYNTAX.test(trimmed)) return ['/bin/sh', '-c', withExec(trimmed)];
  const [file, ...args] = trimmed.split(/\s+/);
  return [file ?? '', ...args];
}
