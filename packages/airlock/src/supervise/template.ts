/**
 * Fills the template variables of airlock.yaml (docs/config.md: {artifact}, {port}, {service},
 * {generation}) into a shell command, quoted for where each one stands: a value pasted
 * as is would split a project path with a space in it into two words.
 *
 * @example
 *   fillTemplate('go build -o {artifact} .', { artifact: '/home/me/go proj/bin' });
 *   // "go build -o '/home/me/go proj/bin' ."
 *   fillTemplate('app --out "{artifact}"', { artifact: '/a b' }); // 'app --out "/a b"'
 */
export function fillTemplate(cmd: string, values: Readonly<Record<string, string | number | undefined>>): string {
  let out = '';
  let quote: "'" | '"' | undefined;
  for (let i = 0; i < cmd.length; i++) {
    const char = cmd[i] as string;
    if (char === '{') {
      const end = cmd.indexOf('}', i);
      const name = end === -1 ? '' : cmd.slice(i + 1, end);
      if (end !== -1 && Object.hasOwn(values, name)) {
        out += quoteFor(String(values[name] ?? ''), quote);
        i = end;
        continue;
      }
    }
    if (char === '\\' && quote !== "'") {
      // An escaped character never opens or closes a quote.
      out += cmd.slice(i, i + 2);
      i++;
      continue;
    }
    if ((char === "'" || char === '"') && (quote === undefined || quote === char)) quote = quote === undefined ? char : undefined;
    out += char;
  }
  return out;
}

/** The variables build.cmd gets (docs/config.md lists the same; a test keeps them in sync). */
export const BUILD_VARIABLES = ['artifact', 'service', 'generation'] as const;
/** run.cmd gets those and the port the generation listens on (under proxy handoffs, its private one). */
export const RUN_VARIABLES = [...BUILD_VARIABLES, 'port'] as const;
export type BuildValues = Readonly<Record<(typeof BUILD_VARIABLES)[number], string | number | undefined>>;
export type RunValues = Readonly<Record<(typeof RUN_VARIABLES)[number], string | number | undefined>>;

/** Nothing the shell reads specially: such a value needs no quotes. */
const PLAIN = /^[\w@%+=:,./-]*$/;

function quoteFor(value: string, quote: "'" | '"' | undefined): string {
  if (quote === "'") return value.replaceAll("'", `'\\''`);
  if (quote === '"') return value.replace(/["\\$`]/g, '\\$&');
  return value !== '' && PLAIN.test(value) ? value : `'${value.replaceAll("'", `'\\''`)}'`;
}
