import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { Document, isMap, isPair, isScalar, type Pair } from 'yaml';
import { AirlockError } from '../errors.js';
import { importAir, type AirImport } from './air-import.js';
import { importNodemon } from './nodemon-import.js';
import { detectServices, noStartScript } from './discover.js';
import { parseConfigText } from './load.js';
import { jsonSchema } from './schema.js';
import { goOwnPort, nodeOwnPort } from './presets/own-port.js';

const ABOUT = ' Written by `airlock init`. Every key: docs/config.md; check it with `airlock validate`.';

/**
 * The schema editors read: the one shipped in node_modules when the project has airlock
 * installed, else a copy written to .airlock/schema.json (a Go project has no node_modules).
 */
function schemaPath(dir: string): string {
  if (existsSync(join(dir, 'node_modules', '@airlock', 'cli', 'schema.json'))) return './node_modules/@airlock/cli/schema.json';
  mkdirSync(join(dir, '.airlock'), { recursive: true });
  writeFileSync(join(dir, '.airlock', 'schema.json'), `${JSON.stringify(jsonSchema(), null, 2)}\n`);
  return './.airlock/schema.json';
}

/** Comments placed above keys of each service, explaining what they do. */
const KEY_COMMENTS: Readonly<Record<string, string>> = {
  go: ' Go preset: `go build` of this main package to .airlock/bin, run it, watch *.go, go.mod, go.sum and embedded files.',
  node: ' Node preset: runs the package.json "start" script (and "build" first, if there is one).',
  build: ' Runs in its own process group; a change during a build cancels it. {artifact} is the output path.',
  run: ' The service command; PORT, AIRLOCK_SERVICE and AIRLOCK_GENERATION are in its environment.',
  watch: ' Globs relative to the service directory; .gitignore is honoured too.',
  listen: ' The address the service serves on (PORT is set to its port); remove for programs that serve nothing.',
  handoff: [
    ' restart: stop the old version, then start the new one, only after a good build.',
    ' No dropped requests: add listen: 127.0.0.1:<port> and handoff: proxy (the app listens on $PORT);',
    ' fd (no proxy hop) only for apps that use the airlock helpers (docs/strategies.md).',
  ].join('\n'),
  stop: ' Stop signal to the whole process group, then SIGKILL after the timeout.',
};

const PROXY_COMMENT = [
  ' proxy: airlock serves listen and forwards to the ready version, which listens on its own private port;',
  ' the old version finishes what it holds, then stops: no dropped requests (docs/strategies.md).',
].join('\n');

export interface InitResult {
  readonly path: string;
  readonly text: string;
  readonly unmapped: readonly string[];
  readonly notes: readonly string[];
}

/** Renders a commented airlock.yaml for the given services. */
export function renderConfig(services: Record<string, Record<string, unknown>>, extraHeader: readonly string[] = [], schema = './node_modules/@airlock/cli/schema.json'): string {
  const doc = new Document({ services });
  doc.commentBefore = [` yaml-language-server: $schema=${schema}`, ABOUT, ...extraHeader].join('\n');
  const servicesNode = doc.get('services', true);
  if (isMap(servicesNode)) {
    for (const item of servicesNode.items) {
      if (!isPair(item) || !isMap(item.value)) continue;
      for (const pair of item.value.items as Pair[]) {
        const key = isScalar(pair.key) ? String(pair.key.value) : '';
        const comment = key === 'handoff' && isScalar(pair.value) && pair.value.value === 'proxy' ? PROXY_COMMENT : KEY_COMMENTS[key];
        if (comment && isScalar(pair.key)) pair.key.commentBefore = comment;
      }
    }
  }
  return doc.toString({ lineWidth: 120 });
}

const STOP = { signal: 'SIGTERM', timeout: '10s' };

/**
 * The settings for how a detected service serves, from how its source picks its address
 * (presets/own-port.ts): zero downtime (`listen` + `handoff: proxy`) where the app can
 * take a private port, else restart, with a note that says where and what to change.
 */
function takingItsPort(dir: string, preset: Record<string, unknown>): { settings: Record<string, unknown>; note?: string } {
  const main = (preset.go as { main?: string } | undefined)?.main;
  const own = main !== undefined ? goOwnPort(join(dir, main), dir) : preset.node !== undefined ? nodeOwnPort(dir) : undefined;
  const restart = { handoff: 'restart', stop: STOP };
  if (own === undefined) return { settings: restart };
  const listen = `127.0.0.1:${own.port}`;
  switch (own.kind) {
    case 'flag': {
      const value = own.takes === 'address' ? '127.0.0.1:{port}' : '{port}';
      const note = `${own.where}: the app takes its address from -${own.flag}: airlock serves ${listen} and starts each version with -${own.flag}=${value} (handoff: proxy, no dropped requests)`;
      return { settings: { run: { cmd: `{artifact} -${own.flag}=${value}` }, listen, handoff: 'proxy', stop: STOP }, note };
    }
    case 'env':
      return { settings: { listen, handoff: 'proxy', stop: STOP }, note: `${own.where}: the app reads $PORT: airlock serves ${listen} and gives each version a private PORT (handoff: proxy, no dropped requests)` };
    case 'literal':
      return {
        settings: restart,
        note: `${own.where}: the app binds ${own.address} itself, so two versions cannot run at once and each reload has a gap; make it listen on $PORT (docs/strategies.md, "Make your app take its port"), then set listen: ${listen} and handoff: proxy`,
      };
  }
}

/** Which tool's config a --from file is, by its name: air's TOML, or nodemon's JSON. */
function importerFor(from: string): { tool: string; read: (source: string, fileName: string) => AirImport } {
  const name = basename(from);
  if (name.endsWith('.toml')) return { tool: 'air', read: importAir };
  if (['package.json', 'nodemon.json', '.nodemonrc', '.nodemonrc.json'].includes(name)) return { tool: 'nodemon', read: importNodemon };
  throw new AirlockError('INIT_FROM', `cannot import "${from}": airlock imports air (.air.toml) and nodemon (nodemon.json, .nodemonrc, package.json "nodemonConfig") configs`);
}

/**
 * `airlock init [--from .air.toml | nodemon.json | package.json]`: writes airlock.yaml for the project in dir, after
 * checking that what it wrote validates.
 *
 * @example
 *   const { path, unmapped } = initConfig(process.cwd(), { from: '.air.toml' });
 */
export function initConfig(dir: string, options: { from?: string; force?: boolean } = {}): InitResult {
  const path = join(dir, 'airlock.yaml');
  if (existsSync(path) && !options.force) {
    throw new AirlockError('INIT_EXISTS', `${path} already exists`);
  }
  let services: Record<string, Record<string, unknown>>;
  let unmapped: readonly string[] = [];
  let notes: readonly string[] = [];
  const header: string[] = [];
  if (options.from !== undefined) {
    const from = join(dir, options.from);
    const importer = importerFor(options.from);
    let source: string;
    try {
      source = readFileSync(from, 'utf8');
    } catch {
      throw new AirlockError('CONFIG_NOT_FOUND', `${importer.tool} config "${options.from}" does not exist in ${dir}`);
    }
    const imported = importer.read(source, basename(from));
    const [name, preset] = Object.entries(detectServices(dir))[0] ?? ['app', {}];
    // How the app takes its port is read from its source as for a plain init: an app that
    // reads $PORT gets zero downtime; a fixed address gets a note saying what to change.
    const { settings, note } = takingItsPort(dir, preset as Record<string, unknown>);
    const serving = settings.handoff === 'proxy' && !('run' in settings) ? { listen: settings.listen, handoff: 'proxy' } : { handoff: 'restart' };
    services = { [name]: { ...imported.service, ...serving } };
    unmapped = imported.unmapped;
    notes = note === undefined ? imported.notes : [...imported.notes, note];
    header.push(` Converted from ${options.from}.`);
    if (note !== undefined) header.push(` Note: ${note}`);
    if (unmapped.length > 0) header.push(' Not mapped:', ...unmapped.map((line) => `   ${line}`));
  } else {
    const detected = detectServices(dir);
    if (Object.keys(detected).length === 0) {
      throw new AirlockError('INIT_NO_PROJECT', `no Go main package (go.mod + package main) or package.json start script in ${dir}`, { details: noStartScript(dir) });
    }
    const found: string[] = [];
    services = Object.fromEntries(
      Object.entries(detected).map(([name, preset]) => {
        const { settings, note } = takingItsPort(dir, preset as Record<string, unknown>);
        if (note) found.push(note);
        return [name, { ...preset, ...settings }];
      }),
    );
    notes = found;
    if (found.length > 0) header.push(...found.map((note) => ` Note: ${note}`));
  }
  const text = renderConfig(services, header, schemaPath(dir));
  // What init writes must pass validate; a failure here is airlock's bug, not the user's.
  parseConfigText(text, path);
  writeFileSync(path, text);
  return { path, text, unmapped, notes };
}
