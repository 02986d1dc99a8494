/**
 * Source locations in compiler output ("./main.go:12:5: undefined: x",
 * "src/a.ts(3,7): error", "file.c:4:2: error"), so a failed build can say where.
 */
const COLON = /(?:^|\s)((?:\.{0,2}\/)?[\w@.+-][\w@./+-]*\.\w+):(\d+):(\d+)/;
const PAREN = /(?:^|\s)((?:\.{0,2}\/)?[\w@.+-][\w@./+-]*\.\w+)\((\d+),(\d+)\)/;

export function findLocations(lines: readonly string[], limit = 10): string[] {
  const found: string[] = [];
  for (const line of lines) {
    const match = COLON.exec(line) ?? PAREN.exec(line);
    if (!match) continue;
    const location = `${match[1]}:${match[2]}:${match[3]}`;
    if (!found.includes(location)) found.push(location);
    if (found.length >= limit) break;
  }
  return found;
}
