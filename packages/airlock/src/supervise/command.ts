/**
 * Turns a command string into an argv. Plain commands are spawned directly, so the pid
 * airlock holds is the program's own; anything that needs a shell (pipes, &&, $VARS,
 * quotes, globs) runs under /bin/sh -c, still in the generation's process group. A
 * single simple command under sh is prefixed with `exec`, so the shell is replaced by the
 * program and signals and exit codes are the program's, not the shell's.
 */
const SHELL_SYNTAX = /[|&;<>()$`\\"'*?[\]#~=%{}!\n]/;
const COMPOUND = /[;&|()\n`{}<>]/;
const RESERVED = /^(if|then|else|elif|fi|for|while|until|case|esac|do|done|exec|function|select|time|!|\[\[?)(\s|$)/;
const ASSIGNMENTS = /^((?:[A-Za-z_]\w*=(?:'[^']*'|"(?:\\.|[^"\\])*"|[^\s'"]*)\s+)*)/;

/**
 * The command with every quoted or escaped character replaced by `Q`, read as sh reads
 * it: a backslash outside quotes escapes the next character (so `'a'\''b'` is one word,
 * the form template values are quoted in); single quotes take everything literally up to
 * the next one; double quotes up to an unescaped one.
 */
function unquoted(command: string): string {
  let out = '';
  for (let i = 0; i < command.length; i++) {
    const char = command[i] as string;
    if (char === '\\') {
      out += 'QQ';
      i++;
    } else if (char === "'") {
      const end = command.indexOf("'", i + 1);
      const close = end === -1 ? command.length : end;
      out += 'Q'.repeat(close - i + 1);
      i = close;
    } else if (char === '"') {
      let j = i + 1;
      while (j < command.length && command[j] !== '"') j += command[j] === '\\' ? 2 : 1;
      out += 'Q'.repeat(Math.min(j, command.length - 1) - i + 1);
      i = j;
    } else out += char;
  }
  return out;
}

/** `FOO=1 app "x y"` → `FOO=1 exec app "x y"`; compound commands are left alone. */
export function withExec(command: string): string {
  // Found on what sh sees outside quotes: an `&&` after a value quoted as 'a'\''b' is still
  // an `&&` (a regex over quote pairs lost it, and `exec` dropped the command after it).
  if (COMPOUND.test(unquoted(command))) return command;
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
