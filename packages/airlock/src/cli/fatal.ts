import { AirlockError } from '../errors.js';
import { closeAllWatchers } from '../watch/watcher.js';
import { printError, type GlobalOptions } from './output.js';
import type { Palette } from '../observe/color.js';

/**
 * The last line of defence for `airlock dev` and `airlock run`: an exception or rejection
 * that no source handled. Every stream, socket and child has its own error path; one that
 * still gets here means airlock no longer knows its own state, so it does not go on. It
 * says so once (AIRLOCK_ERR_INTERNAL and the stack), ends every child (`onFatal`), closes
 * the watchers (exiting with one open aborts the process: exit 134) and exits 2.
 *
 * @example
 *   installFatalHandler(() => daemon.killNow(), { logFormat: 'pretty' }, palette);
 */
export function installFatalHandler(onFatal: () => void, options: Pick<GlobalOptions, 'logFormat'>, palette: Palette): void {
  let handled = false;
  const fatal = (thrown: unknown) => {
    if (handled) return;
    handled = true;
    const stack = thrown instanceof Error ? (thrown.stack ?? thrown.message) : String(thrown);
    printError(new AirlockError('INTERNAL', `airlock stopped on an unexpected error: ${thrown instanceof Error ? thrown.message : String(thrown)}`, { details: stack.split('\n') }), options, palette);
    try {
      onFatal();
    } finally {
      void closeAllWatchers().finally(() => process.exit(2));
    }
  };
  process.on('uncaughtException', fatal);
  process.on('unhandledRejection', fatal);
}
