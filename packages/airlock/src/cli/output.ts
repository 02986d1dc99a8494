import type { AirlockError } from '../errors.js';
import { fullCode } from '../errors.js';
import { colors, noColors, type Palette } from '../observe/color.js';

export interface GlobalOptions {
  readonly config?: string;
  readonly logFormat: 'pretty' | 'json';
  readonly quiet?: boolean;
  readonly verbose?: boolean;
  readonly color: boolean;
}

export function paletteFor(options: GlobalOptions, stream: NodeJS.WriteStream = process.stdout): Palette {
  const wanted = options.color && process.env.NO_COLOR === undefined && (stream.isTTY || process.env.FORCE_COLOR !== undefined);
  return wanted ? colors : noColors;
}

/** How every error reaches the user: message, details, code, and the next step. */
export function printError(error: AirlockError, options: Pick<GlobalOptions, 'logFormat'>, palette: Palette): void {
  if (options.logFormat === 'json') {
    process.stderr.write(
      `${JSON.stringify({ time: new Date().toISOString(), type: 'fatal', code: fullCode(error.code), message: error.message, details: error.details, howTo: error.howTo })}\n`,
    );
    return;
  }
  const lines = [
    palette.red(`airlock: ${error.message}`),
    ...error.details.map((line) => `  ${line}`),
    palette.dim(`  ${fullCode(error.code)}: ${error.howTo}`),
  ];
  process.stderr.write(`${lines.join('\n')}\n`);
}
