import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

/**
 * How an app picks the address it serves on, read from its source by `airlock init`, so
 * the config it writes gives zero downtime where the app allows it:
 *
 * - `flag`: the address comes from a flag (`flag.String("http", "localhost:8080", …)`):
 *   run.cmd passes a private port through it (`-http=127.0.0.1:{port}`) and airlock
 *   serves the flag's default address with `handoff: proxy`;
 * - `env`: it reads PORT (`os.Getenv("PORT")`, `process.env.PORT`): `handoff: proxy` on
 *   the default it falls back to;
 * - `literal`: it binds a fixed address (`ListenAndServe(":8080", …)`, `app.listen(3000)`),
 *   which cannot run twice at once: init says where, and what to change.
 */
export type OwnPort =
  | { readonly kind: 'flag'; readonly flag: string; readonly takes: 'address' | 'port'; readonly port: number; readonly where: string }
  | { readonly kind: 'env'; readonly port: number; readonly where: string }
  | { readonly kind: 'literal'; readonly address: string; readonly port: number; readonly where: string };

const GO_FLAG = /flag\.(String|Int)(?:Var)?\(\s*(?:&\w+\s*,\s*)?"(http|addr|address|listen|port)"\s*,\s*("?)([^,")]*)\3/;
const GO_ENV = /os\.(?:Getenv|LookupEnv)\(\s*"PORT"\s*\)/;
const GO_LITERAL = /(?:ListenAndServe(?:TLS)?|net\.Listen)\(\s*(?:"tcp"\s*,\s*)?"([^"]*:(\d{1,5}))"/;
/** `http.ListenAndServe(addr, mux)`: the address is in a variable or a constant, set from a literal elsewhere. */
const GO_NAMED = /(?:ListenAndServe(?:TLS)?|net\.Listen)\(\s*(?:"tcp"\s*,\s*)?([A-Za-z_]\w*)\s*[,)]/;
/** `&http.Server{Addr: ":8080", …}`, then `srv.ListenAndServe()`. */
const GO_SERVER_ADDR = /\bAddr:\s*"([^"]*:(\d{1,5}))"/;
const NODE_ENV = /process\.env\.PORT\s*(?:\|\||\?\?)\s*(\d{1,5})/;
const NODE_LITERAL = /\.listen\(\s*(\d{1,5})\s*[,)]/;

function portOf(text: string): number | undefined {
  const port = Number(/(\d{1,5})$/.exec(text)?.[1] ?? NaN);
  return Number.isInteger(port) && port > 0 && port < 65536 ? port : undefined;
}

function sources(dir: string, ext: readonly string[]): string[] {
  try {
    return readdirSync(dir)
      .filter((name) => ext.some((e) => name.endsWith(e)) && !name.endsWith('_test.go') && !name.includes('.test.'))
      .map((name) => join(dir, name));
  } catch {
    return [];
  }
}

/** The first match of `pattern` in the files, with where it is ("main.go:12"). */
function find(files: readonly string[], pattern: RegExp, base: string): { match: RegExpExecArray; where: string } | undefined {
  for (const file of files) {
    const lines = readFileSync(file, 'utf8').split('\n');
    for (const [i, line] of lines.entries()) {
      const match = pattern.exec(line);
      if (match) return { match, where: `${relative(base, file)}:${i + 1}` };
    }
  }
  return undefined;
}

/**
 * How the main package in `dir` (relative paths from `base`) picks its address, or
 * undefined when the source does not say in a way airlock recognises.
 *
 * @example
 *   goOwnPort('/src/outyet', '/src/outyet'); // { kind: 'flag', flag: 'http', takes: 'address', port: 8080, where: 'main.go:31' }
 */
export function goOwnPort(dir: string, base: string): OwnPort | undefined {
  const files = sources(dir, ['.go']);
  const flag = find(files, GO_FLAG, base);
  if (flag) {
    const [, type, name, , fallback] = flag.match;
    const port = portOf(fallback ?? '') ?? 8080;
    return { kind: 'flag', flag: name as string, takes: type === 'Int' || name === 'port' ? 'port' : 'address', port, where: flag.where };
  }
  const env = find(files, GO_ENV, base);
  if (env) return { kind: 'env', port: 8080, where: env.where };
  const literal = find(files, GO_LITERAL, base) ?? namedLiteral(files, base) ?? find(files, GO_SERVER_ADDR, base);
  if (literal) return { kind: 'literal', address: literal.match[1] as string, port: Number(literal.match[2]), where: literal.where };
  return undefined;
}

/** `addr := ":8080"` … `http.ListenAndServe(addr, mux)`: the literal the name is set to, found where it is used. */
function namedLiteral(files: readonly string[], base: string): { match: RegExpExecArray; where: string } | undefined {
  const call = find(files, GO_NAMED, base);
  const name = call?.match[1];
  if (call === undefined || name === undefined) return undefined;
  const set = find(files, new RegExp(`\\b${name}\\s*(?::=|=)\\s*"([^"]*:(\\d{1,5}))"`), base);
  return set === undefined ? undefined : { match: set.match, where: call.where };
}

/** The same for a Node project: `process.env.PORT || 3000`, or `app.listen(3000)`. */
export function nodeOwnPort(dir: string): OwnPort | undefined {
  const files = [...sources(dir, ['.js', '.mjs', '.cjs', '.ts']), ...sources(join(dir, 'src'), ['.js', '.mjs', '.cjs', '.ts'])];
  const env = find(files, NODE_ENV, dir);
  if (env) return { kind: 'env', port: Number(env.match[1]), where: env.where };
  const literal = find(files, NODE_LITERAL, dir);
  if (literal) return { kind: 'literal', address: `:${literal.match[1]}`, port: Number(literal.match[1]), where: literal.where };
  return undefined;
}
