import picomatch from 'picomatch';

/**
 * Which changed paths need a build and which only a restart (`watch.restartOnly`, after
 * fresh's no_rebuild_ext and air's build rules): templates and static files a service
 * reads at start-up need a new generation, not a new binary. Paths and globs are
 * relative to the watch root; a path the build reads (a Go file, a template embedded
 * with //go:embed) is never restart-only, whatever the globs say.
 *
 * @example
 *   splitRestartOnly(['templates/a.html', 'main.go'], ['templates/**']); // { build: ['main.go'], restart: ['templates/a.html'] }
 */
export function splitRestartOnly(paths: readonly string[], globs: readonly string[], builtFrom: ReadonlySet<string> = new Set()): { build: string[]; restart: string[] } {
  if (globs.length === 0) return { build: [...paths], restart: [] };
  const matches = picomatch([...globs], { dot: true });
  const restart = new Set(paths.filter((path) => !builtFrom.has(path) && matches(path)));
  return { build: paths.filter((path) => !restart.has(path)), restart: [...restart] };
}
