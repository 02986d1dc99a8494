/**
 * Just enough of npm's semver for a plugin's `host` range: versions MAJOR.MINOR.PATCH
 * (a prerelease tag never satisfies a range without one), and ranges made of `||`
 * alternatives of space-separated comparators: `1.2.3`, `=1.2.3`, `>=1.2`, `<2`, `>1`,
 * `<=1.4.0`, `^1.2`, `~1.2.3`, `1.x`, `1.2.*`, `*`. Zero dependencies on purpose: the
 * runtime package has none.
 *
 * @example
 *   satisfies('1.4.0', '^1.2');        // true
 *   satisfies('2.0.0', '>=1.2 <2 || 3'); // false
 */
type Version = readonly [number, number, number];

const VERSION = /^v?(\d+)\.(\d+)\.(\d+)(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$/;

export function parseVersion(text: string): Version | undefined {
  const match = VERSION.exec(text.trim());
  if (!match || text.includes('-')) return undefined;
  return [Number(match[1]), Number(match[2]), Number(match[3])];
}

function compare(a: Version, b: Version): number {
  return a[0] - b[0] || a[1] - b[1] || a[2] - b[2];
}

type Comparator = (v: Version) => boolean;

/** A partial version (1, 1.2, 1.x, 1.2.*) as its lower bound and how many parts it fixes. */
function partial(text: string): { low: Version; fixed: number } | undefined {
  const parts = text.replace(/^v/, '').split('.');
  if (parts.length > 3 || parts.some((p) => p === '')) return undefined;
  const nums: number[] = [];
  for (const part of parts) {
    if (/^[x*]$/i.test(part)) break;
    if (!/^\d+$/.test(part)) return undefined;
    nums.push(Number(part));
  }
  return { low: [nums[0] ?? 0, nums[1] ?? 0, nums[2] ?? 0], fixed: nums.length };
}

/** The version just above everything a partial version covers (1.2 → 1.3.0). */
function above(low: Version, fixed: number): Version | undefined {
  if (fixed === 0) return undefined;
  if (fixed === 1) return [low[0] + 1, 0, 0];
  if (fixed === 2) return [low[0], low[1] + 1, 0];
  return [low[0], low[1], low[2] + 1];
}

function comparator(token: string): Comparator | undefined {
  const match = /^(\^|~|>=|<=|>|<|=)?(.+)$/.exec(token);
  if (!match) return undefined;
  const op = match[1] ?? '';
  const p = partial(match[2] as string);
  if (!p) return undefined;
  const { low, fixed } = p;
  const ge = (v: Version) => compare(v, low) >= 0;
  const lt = (bound: Version | undefined) => (v: Version) => bound === undefined || compare(v, bound) < 0;
  switch (op) {
    case '^': {
      // ^1.2.3 := >=1.2.3 <2.0.0; ^0.2.3 := <0.3.0; ^0.0.3 := <0.0.4 (the left-most non-zero part is fixed)
      const bound: Version | undefined =
        fixed === 0 ? undefined : low[0] > 0 || fixed === 1 ? [low[0] + 1, 0, 0] : low[1] > 0 || fixed === 2 ? [0, low[1] + 1, 0] : [0, 0, low[2] + 1];
      return (v) => ge(v) && lt(bound)(v);
    }
    case '~':
      return (v) => ge(v) && lt(above(low, fixed <= 1 ? fixed : 2))(v);
    case '>=':
      return ge;
    case '>':
      return (v) => (fixed === 3 ? compare(v, low) > 0 : !lt(above(low, fixed))(v));
    case '<':
      return (v) => compare(v, low) < 0;
    case '<=':
      return (v) => lt(above(low, fixed))(v);
    default:
      return (v) => ge(v) && lt(above(low, fixed))(v);
  }
}

/** Whether a range is well formed; the reason otherwise. */
export function checkRange(range: string): string | undefined {
  for (const alternative of range.split('||')) {
    const tokens = alternative.trim().split(/\s+/).filter(Boolean);
    if (tokens.length === 0) return `an empty alternative in ${JSON.stringify(range)}`;
    for (const token of tokens) if (!comparator(token)) return `${JSON.stringify(token)} is not a version comparator (e.g. ^1.2, >=1 <2, 1.x)`;
  }
  return undefined;
}

export function satisfies(version: string, range: string): boolean {
  const v = parseVersion(version);
  if (v === undefined || checkRange(range) !== undefined) return false;
  return range.split('||').some((alternative) =>
    alternative
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .every((token) => (comparator(token) as Comparator)(v)),
  );
}
