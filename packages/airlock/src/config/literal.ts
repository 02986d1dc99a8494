/**
 * Text as a literal inside a regular expression: a key or path may hold `.`, `$`, `(`.
 *
 * @example
 *   new RegExp(`^${escapeRegExp('tmp/main.bin')}$`).test('tmp/main.bin'); // true, and not 'tmp/mainXbin'
 */
export function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
