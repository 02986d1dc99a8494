import { delimiter, join, relative, resolve } from 'node:path';
import { AirlockError } from '../errors.js';
import { readEnvFile } from './env-file.js';
import { deepFreeze } from './load.js';
import { findGoModule } from './presets/go.js';
import { NODE_BUILD_OUTPUTS, NODE_SOURCES, readPackageJson } from './presets/node.js';
import type { Config, OnBusy, ServiceConfig } from './schema.js';

/**
 * Everything a service's pipeline needs, fully resolved: absolute paths, presets
 * expanded, durations in ms. Frozen; modules receive it as plain values.
 */
export interface ServicePlan {
  readonly name: string;
  readonly dir: string;
  readonly preset: 'go' | 'node' | undefined;
  /** Go preset: the module and the main package, for the module-wide dependency graph. */
  readonly go: { readonly moduleDir: string; readonly main: string } | undefined;
  readonly dependsOn: readonly string[];
  /** Dependencies whose every new generation restarts this service too. */
  readonly restartWith: readonly string[];
  readonly build: { readonly cmd: string; readonly cwd: string; readonly timeoutMs: number } | undefined;
  /** Where the build writes the program ({artifact}); undefined when the build names no artifact. */
  readonly artifact: string | undefined;
  readonly run: { readonly cmd: string; readonly env: Readonly<Record<string, string>>; readonly envFiles: readonly string[] };
  /** App config files validated before a generation starts with them (absolute paths). */
  readonly appConfig:
    | {
        readonly files: readonly string[];
        readonly schema: string | undefined;
        readonly deliver: 'restart' | 'signal';
        readonly signal: NodeJS.Signals;
        /** Where the validated snapshot is written (JSON), for apps that read it: AIRLOCK_CONFIG_FILE. */
        readonly snapshot: string;
      }
    | undefined;
  readonly watch: {
    readonly root: string;
    readonly include: readonly string[];
    readonly exclude: readonly string[];
    readonly debounceMs: number;
    readonly gitignore: boolean;
    /** What a change does to a build under way (BusyPolicy). */
    readonly onBusy: OnBusy;
    /** Poll every this many ms instead of native events (watch.poll); undefined: native. */
    readonly pollMs: number | undefined;
    /** Globs relative to root whose changes only restart (watch.restartOnly); they are in `include` too. */
    readonly restartOnly: readonly string[];
  };
  readonly listen: { readonly host: string; readonly port: number } | undefined;
  readonly handoff: Handoff;
  readonly health: HealthPlan;
  /** workers: processes sharing the listen socket, or auto (the command decides: swap/create.ts proxyWorkers). */
  readonly proxy: { readonly holdMs: number; readonly liveReload: boolean; readonly workers: number | 'auto' };
  readonly rollout: RolloutPlan;
  /** `dir`: the app's plugin directory (absolute), left out of the watch (its host swaps plugins itself); `go`: Go plugin packages airlock builds. */
  readonly plugins: { readonly dir: string | undefined; readonly go: readonly string[]; readonly release?: ReleasePlan } | undefined;
  /** Versions come from a signed release channel (`airlock agent`): where (an absolute directory or a URL), which channel, the trusted root, the poll period. */
  readonly release: ReleasePlan | undefined;
  /** A debugger per generation on a private port, forwarded from one stable address (docs/debugging.md). */
  readonly debug: DebugPlan | undefined;
  readonly stop: { readonly signal: NodeJS.Signals; readonly timeoutMs: number; readonly drainMs: number };
}

export type Handoff = NonNullable<ServiceConfig['handoff']>;

export interface DebugPlan {
  readonly kind: 'delve' | 'inspect';
  readonly listen: { readonly host: string; readonly port: number };
}

/** The debugger a service asked for; whether it can run is checked where it starts (debug/). */
function debugPlan(service: ServiceConfig): DebugPlan | undefined {
  const debug = service.debug;
  if (debug === undefined) return undefined;
  const kind = debug.delve ? 'delve' : 'inspect';
  return { kind, listen: debug.listen ?? { host: '127.0.0.1', port: kind === 'delve' ? 2345 : 9229 } };
}

export interface ReleasePlan {
  readonly from: string;
  readonly channel: string;
  readonly trust: string;
  readonly pollMs: number;
}

/** A channel's settings with its paths made absolute (a URL stays as it is). */
function releasePlan(dir: string, release: { from: string; channel: string; trust: string; poll: number }): ReleasePlan {
  return { from: /^[a-z+]+:\/\//.test(release.from) ? release.from : resolve(dir, release.from), channel: release.channel, trust: resolve(dir, release.trust), pollMs: release.poll };
}

/** What identifies a user for a rollout; `random`: an id airlock sets in the cookie airlock_uid. */
export type RolloutKey = { readonly kind: 'header' | 'cookie'; readonly name: string } | { readonly kind: 'ip' } | { readonly kind: 'random' };

/** Gray release (docs/rollout.md): how a ready generation takes its share of users. */
export interface RolloutPlan {
  readonly strategy: 'instant' | 'canary';
  /** Percent of users per step, strictly growing, the last one 100. */
  readonly steps: readonly number[];
  readonly intervalMs: number;
  readonly key: RolloutKey;
  readonly bucketing: 'airlock' | 'unleash';
  /** The salt of the buckets; undefined: a fresh one per rollout. */
  readonly group: string | undefined;
  readonly debugHeaders: boolean;
  readonly analysis: { readonly maxErrorRate: number; readonly maxP99IncreaseMs: number; readonly minRequests: number; readonly failureLimit: number; readonly confidence?: number };
  /** Who may force a side (x-airlock-canary); undefined: header under airlock dev, off otherwise. */
  readonly force?: 'off' | 'header' | 'token';
  /** force: token — the secret a forcing request must carry. */
  readonly forceToken?: string;
}

function rolloutKey(key: string | undefined): RolloutKey {
  if (key === undefined) return { kind: 'random' };
  if (key === 'ip') return { kind: 'ip' };
  const [kind, name] = key.split(/:(.*)/s) as ['header' | 'cookie', string];
  // Header names are looked up the way Node stores them.
  return { kind, name: kind === 'header' ? name.toLowerCase() : name };
}

function rolloutPlan(name: string, service: ServiceConfig): RolloutPlan {
  const r = service.rollout;
  const forceToken = r.forceToken ?? process.env.AIRLOCK_ROLLOUT_TOKEN;
  if (r.force === 'token' && (forceToken === undefined || forceToken.length < 16)) {
    throw new AirlockError('CONFIG_INVALID', `services.${name}.rollout.force is token, but no token of at least 16 characters is set; set rollout.forceToken or AIRLOCK_ROLLOUT_TOKEN, or use force: off`);
  }
  const force = r.force === 'token' ? { force: r.force, forceToken } : r.force === undefined ? {} : { force: r.force };
  return { strategy: r.strategy, steps: r.steps, intervalMs: r.interval, key: rolloutKey(r.key), bucketing: r.bucketing, group: r.group, debugHeaders: r.debugHeaders, analysis: r.analysis, ...force };
}

/** How readiness and health are checked; at most one readiness probe. */
export interface HealthPlan {
  readonly probe:
    | { readonly kind: 'http'; readonly path: string; readonly status: number | undefined }
    | { readonly kind: 'tcp' }
    | { readonly kind: 'grpc'; readonly service: string }
    | { readonly kind: 'exec'; readonly cmd: string }
    | { readonly kind: 'log'; readonly pattern: string }
    | undefined;
  readonly maxGrowthMBps: number | undefined;
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly failureThreshold: number;
  readonly startTimeoutMs: number;
  readonly rollbackWindowMs: number;
}

function healthPlan(service: ServiceConfig): HealthPlan {
  const h = service.health;
  const probe: HealthPlan['probe'] = h.http
    ? { kind: 'http', path: h.http.path, status: h.http.status }
    : h.grpc
      ? { kind: 'grpc', service: h.grpc.service }
      : h.exec
        ? { kind: 'exec', cmd: h.exec }
        : h.log
          ? { kind: 'log', pattern: h.log }
          : h.tcp || service.listen
            ? { kind: 'tcp' }
            : undefined;
  return {
    probe,
    maxGrowthMBps: h.memory?.maxGrowthMBps,
    intervalMs: h.interval,
    timeoutMs: h.timeout,
    failureThreshold: h.failureThreshold,
    startTimeoutMs: h.startTimeout,
    rollbackWindowMs: h.rollbackWindow,
  };
}

const GO_SOURCES = ['**/*.go', 'go.mod', 'go.sum'];

function stringEnv(env: Readonly<Record<string, string | number | boolean>>): Record<string, string> {
  return Object.fromEntries(Object.entries(env).map(([key, value]) => [key, String(value)]));
}

async function goPreset(name: string, dir: string, service: ServiceConfig, main: string) {
  const moduleDir = findGoModule(dir);
  if (moduleDir === undefined) {
    throw new AirlockError('PRESET_GO', `service "${name}": no go.mod found in ${dir} or above it`);
  }
  const pkg = relative(moduleDir, resolve(dir, main));
  const target = pkg === '' ? '.' : `./${pkg}`;
  return {
    go: { moduleDir, main: target },
    root: moduleDir,
    // Under delve: no optimisation, no inlining, so every variable and line can be inspected.
    build: service.build ?? { cmd: `go build${service.debug?.delve ? ` -gcflags='all=-N -l'` : ''} -o {artifact} ${target}`, timeout: 300_000 },
    buildDir: moduleDir,
    artifact: join(moduleDir, '.airlock', 'bin', name),
    runCmd: service.run.cmd ?? '{artifact}',
    // Embedded files come from the module graph (GoGraph.isInput), kept current as code changes.
    include: service.watch.include ?? GO_SOURCES,
    exclude: ['**/*_test.go', ...service.watch.exclude],
  };
}

function nodePreset(name: string, dir: string, service: ServiceConfig, script: string) {
  const pkg = readPackageJson(dir);
  const start = pkg?.scripts[script];
  if (service.run.cmd === undefined && start === undefined) {
    throw new AirlockError('CONFIG_NO_SERVICE', `service "${name}": ${join(dir, 'package.json')} has no "${script}" script`);
  }
  const buildScript = pkg?.scripts.build;
  const build = service.build ?? (buildScript ? { cmd: buildScript, timeout: 300_000 } : undefined);
  return {
    root: dir,
    build,
    buildDir: dir,
    artifact: undefined,
    runCmd: service.run.cmd ?? (start as string),
    include: service.watch.include ?? NODE_SOURCES,
    exclude: [...(build ? NODE_BUILD_OUTPUTS : []), ...service.watch.exclude],
  };
}

function plainService(name: string, dir: string, service: ServiceConfig) {
  const usesArtifact = service.build?.cmd.includes('{artifact}') ?? false;
  return {
    root: dir,
    build: service.build,
    buildDir: dir,
    // Named by service: two services in one dir must never build to (or prune) one path.
    artifact: usesArtifact ? join(dir, '.airlock', 'bin', name) : undefined,
    runCmd: service.run.cmd as string,
    include: service.watch.include ?? ['**/*'],
    exclude: service.watch.exclude,
  };
}

/** Resolves one service of a validated config against the directory of its config file. */
export async function planService(name: string, service: ServiceConfig, baseDir: string): Promise<ServicePlan> {
  const dir = resolve(baseDir, service.dir);
  const shape = service.go
    ? await goPreset(name, dir, service, service.go.main)
    : service.node
      ? nodePreset(name, dir, service, service.node.script)
      : plainService(name, dir, service);
  // A plugin directory is the app's plugin host's to watch and swap: never a rebuild.
  const pluginsDir = service.plugins?.dir ? relative(shape.root, resolve(dir, service.plugins.dir)).split('\\').join('/') : undefined;
  const exclude = pluginsDir === undefined ? shape.exclude : [...shape.exclude, `${pluginsDir}/**`];
  // Written relative to the service's dir; matched relative to the watch root (a Go module's).
  const fromRoot = relative(shape.root, dir).split('\\').join('/');
  const restartOnly = service.watch.restartOnly.map((glob) => (fromRoot === '' ? glob : `${fromRoot}/${glob}`));
  const envFile = service.run.envFile;
  const envFiles = (envFile === undefined ? [] : typeof envFile === 'string' ? [envFile] : envFile).map((file) => resolve(dir, file));
  const env: Record<string, string> = stringEnv(service.run.env);
  if (service.node) env.PATH = `${join(dir, 'node_modules', '.bin')}${delimiter}${process.env.PATH ?? ''}`;
  return deepFreeze({
    name,
    dir,
    preset: service.go ? 'go' : service.node ? 'node' : undefined,
    go: 'go' in shape ? (shape.go as ServicePlan['go']) : undefined,
    dependsOn: service.dependsOn,
    restartWith: service.restartWith,
    build: shape.build ? { cmd: shape.build.cmd, cwd: shape.buildDir, timeoutMs: shape.build.timeout } : undefined,
    artifact: shape.artifact,
    run: { cmd: shape.runCmd, env, envFiles },
    appConfig: service.config
      ? {
          files: service.config.files.map((file) => resolve(dir, file)),
          schema: service.config.schema === undefined ? undefined : resolve(dir, service.config.schema),
          deliver: service.config.deliver,
          signal: service.config.signal,
          snapshot: join(baseDir, '.airlock', 'config', `${name}.json`),
        }
      : undefined,
    watch: {
      root: shape.root,
      include: [...shape.include, ...restartOnly],
      exclude,
      debounceMs: service.watch.debounce,
      gitignore: service.watch.gitignore,
      onBusy: service.watch.onBusy,
      pollMs: service.watch.poll === 0 ? undefined : service.watch.poll,
      restartOnly,
    },
    listen: service.listen,
    handoff: service.handoff ?? (service.listen ? 'proxy' : 'restart'),
    health: healthPlan(service),
    proxy: { holdMs: service.proxy.hold, liveReload: service.proxy.liveReload, workers: service.proxy.workers },
    rollout: rolloutPlan(name, service),
    debug: debugPlan(service),
    plugins: service.plugins
      ? { dir: service.plugins.dir === undefined ? undefined : resolve(dir, service.plugins.dir), go: service.plugins.go, ...(service.plugins.release === undefined ? {} : { release: releasePlan(dir, service.plugins.release) }) }
      : undefined,
    stop: { signal: service.stop.signal, timeoutMs: service.stop.timeout, drainMs: service.stop.drain },
    release: service.release ? releasePlan(dir, service.release) : undefined,
  });
}

/**
 * The services a run covers: the named ones and every service they depend on, or all
 * of them when none are named. Throws for a name the config does not define.
 */
export function chooseServices(config: Config, only: readonly string[]): string[] {
  const names = Object.keys(config.services);
  for (const wanted of only) {
    if (!names.includes(wanted)) {
      throw new AirlockError('CONFIG_UNKNOWN_SERVICE', `no service named "${wanted}"; defined: ${names.join(', ')}`);
    }
  }
  if (only.length === 0) return names;
  // A chosen service brings the services it depends on.
  const wanted = new Set(only);
  const stack = [...only];
  while (stack.length > 0) {
    for (const dependency of config.services[stack.pop() as string]?.dependsOn ?? []) {
      if (!wanted.has(dependency)) stack.push(dependency);
      wanted.add(dependency);
    }
  }
  return names.filter((name) => wanted.has(name));
}

export async function planServices(config: Config, baseDir: string, only: readonly string[] = []): Promise<ServicePlan[]> {
  const chosen = chooseServices(config, only);
  return Promise.all(chosen.map((name) => planService(name, config.services[name] as ServiceConfig, baseDir)));
}

/** Reads a service's env files (dotenv syntax) fresh, for each new generation (env-file.ts says what is refused). */
export function readEnvFiles(files: readonly string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const file of files) Object.assign(env, readEnvFile(file));
  return env;
}
