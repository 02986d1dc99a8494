/** ANSI colours, or none (--no-color, NO_COLOR, or output that is not a terminal). */
export interface Palette {
  service(index: number, text: string): string;
  red(text: string): string;
  green(text: string): string;
  dim(text: string): string;
}

const SERVICE_COLORS = [36, 35, 33, 34, 32, 96, 95, 93];
const wrap = (code: number, text: string) => `\u001b[${code}m${text}\u001b[39m`;

export const colors: Palette = {
  service: (index, text) => wrap(SERVICE_COLORS[index % SERVICE_COLORS.length] ?? 36, text),
  red: (text) => wrap(31, text),
  green: (text) => wrap(32, text),
  dim: (text) => `\u001b[2m${text}\u001b[22m`,
};

export const noColors: Palette = {
  service: (_index, text) => text,
  red: (text) => text,
  green: (text) => text,
  dim: (text) => text,
};
