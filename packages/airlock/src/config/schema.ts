import { parseLocation } from './release-location.js';
import { isIP } from 'node:net';
import { z } from 'zod';
import { formatMs, parseDuration } from './duration.js';
import { envProblem, NUL_MESSAGE } from './env-file.js';

/**
 * What a change does to a build under way (`watch.onBusy`, after watchexec's
 * `--on-busy-update`): `restart` cancels it and builds the newest change (saves faster
 * than the build then never ship), `queue` lets it finish and builds the newest change
 * after it, `auto` (the default) cancels it only while that cannot starve.
 */
export const ON_BUSY = ['auto', 'restart', 'queue'] as const;
export type OnBusy = (typeof ON_BUSY)[number];

/**
 * The one schema of airlock.yaml (and of the flags that describe a service without a
 * file). Unknown keys are errors everywhere; defaults live here and nowhere else.
 */

/** Node's timers hold at most 2^31-1 ms (~24.8 days); a longer one fires after 1 ms. */
export const MAX_DURATION_MS = 2 ** 31 - 1;

function duration(defaultValue: string, bounds: { minMs?: number } = {}) {
  const minMs = bounds.minMs ?? 0;
  const base = z
    .union([z.string(), z.number()])
    .describe(`A duration with units: "50ms", "2s", "5m", "1h30m"${minMs === 0 ? '; 0 for none' : ''}; at most 596h.`)
    .transform((value, ctx) => {
      const ms = parseDuration(value);
      const fail = (message: string) => {
        ctx.issues.push({ code: 'custom', input: value, message });
        return z.NEVER;
      };
      if (ms === undefined) return fail(`expected a duration with units such as "500ms", "2s" or "5m", got ${JSON.stringify(value)}`);
      if (ms > MAX_DURATION_MS) return fail(`${JSON.stringify(value)} is too long: a duration may be at most 596h (24 days)`);
      if (ms < minMs) return fail(`${JSON.stringify(value)} is too short: at least ${formatMs(minMs)}`);
      return ms;
    });
  // prefault, not default: zod 4 returns a default unparsed, and this one must be parsed to ms.
  return base.prefault(defaultValue);
}

/** An IPv4 or IPv6 address, or a host name (RFC 1123 labels; not all digits, so 1.2.3.4.5 is refused). */
function isHost(host: string): boolean {
  if (isIP(host) !== 0) return true;
  const labels = host.split('.');
  if (labels.every((label) => /^\d+$/.test(label))) return false;
  return host.length <= 253 && labels.every((label) => /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i.test(label));
}

export const listenAddress = z
  .union([z.string(), z.number()])
  .describe('Address airlock makes the service reachable on: "127.0.0.1:8080", ":8080" or 8080 (loopback by default).')
  .transform((value, ctx) => {
    const text = String(value).trim();
    const match = /^(?:(\[[^\]]+\]|[^:]*):)?(\d{1,5})$/.exec(text);
    const port = match ? Number(match[2]) : NaN;
    if (!match || port < 1 || port > 65535) {
      ctx.issues.push({
        code: 'custom',
        input: value,
        message: `expected "host:port", ":port" or a port number from 1 to 65535, got ${JSON.stringify(value)}`,
      });
      return z.NEVER;
    }
    const host = (match?.[1] ?? '').replace(/^\[|\]$/g, '') || '127.0.0.1';
    if (!isHost(host)) {
      ctx.issues.push({
        code: 'custom',
        input: value,
        message: `"${host}" is not an IP address or host name; use e.g. 127.0.0.1:${port}, [::1]:${port} or localhost:${port}`,
      });
      return z.NEVER;
    }
    return { host, port };
  });

export const SIGNALS = ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGKILL'] as const;
export const HANDOFFS = ['fd', 'proxy', 'tcp-proxy', 'restart'] as const;

const stringList = z.array(z.string());
/** A command line: a NUL byte in it would start nothing (spawn refuses it), so validate does. */
const command = z.string().min(1).refine((text) => !text.includes('\0'), NUL_MESSAGE);

/** header:NAME (an HTTP token), cookie:NAME, or ip. */
const ROLLOUT_KEY = /^(?:header:[!#$%&'*+.^_`|~0-9A-Za-z-]+|cookie:[!#$%&'*+.^_`|~0-9A-Za-z-]+|ip)$/;

const rolloutSchema = z
  .strictObject({
    strategy: z.enum(['instant', 'canary']).default('instant').describe("instant: a ready generation takes all traffic at once; canary: it takes a growing share of users (handoff: proxy)."),
    steps: z
      .array(z.number().gt(0).max(100))
      .min(1)
      .default([1, 10, 50, 100])
      .describe('Percent of users at each step (0.01 resolution), strictly growing, ending at 100.'),
    interval: duration('30s', { minMs: 100 }).describe('Time at each step before the analysis may promote it; at least 100ms.'),
    key: z
      .string()
      .regex(ROLLOUT_KEY, 'expected header:NAME, cookie:NAME or ip')
      .optional()
      .describe('What identifies a user: header:NAME, cookie:NAME or ip; without it, a random id in the cookie airlock_uid.'),
    bucketing: z.enum(['airlock', 'unleash']).default('airlock').describe("airlock: 10,000 buckets; unleash: Unleash's flexibleRollout (100 buckets)."),
    group: z.string().min(1).optional().describe('The salt of the buckets (Unleash groupId); default: a fresh id per rollout.'),
    debugHeaders: z.boolean().default(false).describe('Answer every response with x-airlock-generation.'),
    force: z
      .enum(['off', 'header', 'token'])
      .optional()
      .describe('Who may force a side with x-airlock-canary: always|never: nobody (off; the default of run and agent), any client (header; the default of dev), or one with x-airlock-canary-token (token). Forced answers are never judged.'),
    forceToken: z.string().min(16).optional().describe('force: token — the secret (at least 16 characters); or set AIRLOCK_ROLLOUT_TOKEN instead of writing it here.'),
    analysis: z
      .strictObject({
        maxErrorRate: z.number().min(0).max(1).default(0.01).describe('Canary 5xx and connection failures per request in a window, at most.'),
        maxP99IncreaseMs: z.number().min(0).default(50).describe('Canary p99 minus stable p99 in the same window, at most (ms).'),
        minRequests: z.number().int().min(1).default(100).describe('Fewer canary requests in a window: inconclusive, the step holds.'),
        failureLimit: z.number().int().min(0).default(0).describe('Failed windows allowed before the rollout rolls back.'),
        confidence: z
          .number()
          .gt(0.5)
          .lt(1)
          .default(0.999)
          .describe("How sure a window must be that the canary's error rate is above the stable one's (one-sided two-proportion z-test) to fail it."),
      })
      .prefault({}),
  })
  .superRefine((rollout, ctx) => {
    rollout.steps.forEach((step, index) => {
      if (Math.abs(Math.round(step * 100) - step * 100) > 1e-9) {
        ctx.addIssue({ code: 'custom', path: ['steps', index], message: `${step}: a step is a percent with at most two decimals (0.01 resolution), e.g. 0.5 or 12.25` });
      }
      const before = rollout.steps[index - 1];
      if (before !== undefined && step <= before) {
        ctx.addIssue({ code: 'custom', path: ['steps', index], message: `steps must grow strictly: ${step} comes after ${before}` });
      }
    });
    if (rollout.steps.at(-1) !== 100) {
      ctx.addIssue({ code: 'custom', path: ['steps', rollout.steps.length - 1], message: `the last step must be 100 (every user), got ${rollout.steps.at(-1)}; e.g. steps: [1, 10, 50, 100]` });
    }
  });

/** A signed release channel to follow: a service's own releases, or its plugins'. */
const releaseChannel = z
  .strictObject({
    from: z
      .string()
      .min(1)
      .superRefine((from, ctx) => {
        try {
          parseLocation(from, 'release.from');
        } catch (error) {
          ctx.addIssue({ code: 'custom', message: (error as Error).message });
        }
      })
      .describe('The release channel: a directory `airlock release init` wrote (relative to dir), the http(s) URL of `airlock release serve`, or nats://HOST:PORT/REPO (a repository in NATS JetStream, docs/fleet.md).'),
    channel: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'a channel name: letters, digits, ".", "_" or "-", e.g. stable')
      .describe('The channel to follow, e.g. stable.'),
    trust: z.string().min(1).describe('The root metadata trusted first (KEYDIR/1.root.json from `airlock release init`), relative to dir.'),
    poll: duration('5s', { minMs: 100 }).describe('How often the channel is checked for a newer release; at least 100ms. With nats:// a watch tells the agent at once, and the poll is only the backstop.'),
  });

export const serviceSchema = z
  .strictObject({
    dir: z.string().default('.').describe('Working directory of the service, relative to airlock.yaml.'),
    dependsOn: z.array(z.string()).default([]).describe('Services that must be ready before this one starts.'),
    restartWith: z
      .array(z.string())
      .default([])
      .describe('Of dependsOn: services whose every new generation also restarts this one (same build), like compose depends_on.restart.'),
    go: z
      .strictObject({
        main: z.string().describe('The main package to build, e.g. ./cmd/api.'),
      })
      .optional()
      .describe('Go preset: fills in build, run and watch for a main package.'),
    node: z
      .strictObject({
        script: z.string().default('start').describe('The package.json script that starts the service.'),
      })
      .optional()
      .describe('Node preset: runs a package.json script (and its build script on change, if there is one).'),
    build: z
      .strictObject({
        cmd: command.describe('Build command; {artifact} is the path the run command starts; {service} and {generation} are replaced too.'),
        timeout: duration('5m'),
      })
      .optional(),
    run: z
      .strictObject({
        cmd: command.optional().describe('Command that runs the service; {artifact}, {port}, {service} and {generation} are replaced.'),
        env: z
          .record(z.string(), z.union([z.string(), z.number(), z.boolean()]))
          .superRefine((env, ctx) => {
            for (const [key, value] of Object.entries(env)) {
              const problem = envProblem(key, String(value));
              if (problem !== undefined) ctx.addIssue({ code: 'custom', path: [key], message: problem });
            }
          })
          .default({}),
        envFile: z.union([z.string(), stringList]).optional().describe('dotenv file(s) loaded into the environment.'),
      })
      .prefault({}),
    config: z
      .strictObject({
        files: z.array(z.string()).min(1).describe('App config files (YAML, JSON or .env) airlock validates before a generation sees them.'),
        schema: z.string().optional().describe('A JSON Schema file the merged files must satisfy.'),
        deliver: z
          .enum(['restart', 'signal'])
          .default('restart')
          .describe('restart: a valid change starts a new generation through the handoff; signal: the snapshot file is replaced atomically and the running generation is signalled.'),
        signal: z.enum(SIGNALS).default('SIGHUP').describe('deliver: signal — the signal that tells the app to re-read the snapshot.'),
      })
      .optional(),
    watch: z
      .strictObject({
        include: stringList.optional().describe('Globs (relative to dir) whose changes trigger a rebuild.'),
        exclude: stringList.default([]).describe('Globs to ignore; .gitignore is honoured as well.'),
        restartOnly: stringList
          .default([])
          .describe('Globs (relative to dir) whose changes start a new generation of the current build without building: templates and static files the service reads at start-up. A file the build reads (a Go file, an embedded template) still rebuilds.'),
        debounce: duration('50ms'),
        poll: z
          .union([z.string(), z.number()])
          .optional()
          .transform((value, ctx) => {
            if (value === undefined) return undefined;
            const ms = parseDuration(value);
            if (ms === undefined) {
              ctx.addIssue({ code: 'custom', message: `expected a duration such as 500ms or 1s, got ${JSON.stringify(value)}` });
              return z.NEVER;
            }
            return ms;
          })
          .describe('Look for changes every this long instead of listening for native events (Docker bind mounts from another OS, NFS, WSL drvfs); e.g. 500ms. Unset: native events.'),
        gitignore: z.boolean().default(true),
        onBusy: z
          .enum(ON_BUSY)
          .default('auto')
          .describe(
            'What a change does to a build under way: auto (cancel it unless it has run half the usual build time or the build before it was cancelled: never starves), restart (always cancel), queue (let it finish, then build the newest change).',
          ),
      })
      .prefault({}),
    listen: listenAddress.optional(),
    handoff: z.enum(HANDOFFS).optional().describe('How traffic moves to a new version; default proxy with listen, restart without.'),
    health: z
      .strictObject({
        http: z
          .strictObject({
            path: z.string().startsWith('/').default('/healthz'),
            status: z.number().int().min(100).max(599).optional().describe('Expected status; default: any 2xx or 3xx.'),
          })
          .optional()
          .describe('HTTP GET on the generation (its private address); ready on the expected status.'),
        tcp: z.boolean().optional().describe('Ready when the generation accepts a TCP connection.'),
        grpc: z
          .strictObject({ service: z.string().default('') })
          .optional()
          .describe('grpc.health.v1.Health/Check; ready on SERVING.'),
        exec: z.string().min(1).optional().describe('A command; ready when it exits 0.'),
        log: z.string().min(1).optional().describe('A regular expression; ready when a line of output matches.'),
        memory: z
          .strictObject({ maxGrowthMBps: z.number().positive() })
          .optional()
          .describe('Fail when the RSS of the process group grows faster than this.'),
        interval: duration('500ms'),
        timeout: duration('500ms', { minMs: 1 }).describe('How long one probe may take; at least 1ms.'),
        failureThreshold: z.number().int().min(1).default(3),
        startTimeout: duration('30s'),
        rollbackWindow: duration('30s').describe('A generation that fails this soon after its swap is replaced by the previous artifact.'),
      })
      .prefault({}),
    proxy: z
      .strictObject({
        hold: duration('30s').describe('How long a request waits while no generation is ready.'),
        liveReload: z
          .boolean()
          .default(false)
          .describe('handoff: proxy under airlock dev — HTML pages get a small script that reloads them once a new generation serves, and shows a failed build over the page (docs/ui.md).'),
        workers: z
          .union([z.literal('auto'), z.number().int().min(1).max(64)])
          .default('auto')
          .describe('handoff: proxy and tcp-proxy — processes sharing the listen socket (airlock\'s own and N-1 workers). auto: half the machine\'s cores, at most 4, under airlock run and agent; 1 under airlock dev and with liveReload.'),
      })
      .prefault({}),
    plugins: z
      .strictObject({
        dir: z.string().min(1).optional().describe("The app's plugin directory (relative to dir): a PluginHost swaps what changes there in place, so it is no rebuild trigger; airlock dev watches it and tells the host (plugin.changed on the control socket)."),
        go: z
          .array(z.string().min(1))
          .default([])
          .describe('Go preset: plugin packages (relative to dir) built with -buildmode=plugin to $AIRLOCK_PLUGINS_DIR, a new path per build, when they change and for every new generation.'),
        release: releaseChannel
          .optional()
          .describe('Plugins from a signed channel (`airlock release publish … --plugin NAME DIR`): each verified, unpacked and moved into dir/NAME whole; they run sandboxed (docs/plugins.md).'),
      })
      .optional()
      .describe('Plugins the app hosts itself (@airlock/runtime/plugins, docs/plugins.md).'),
    release: releaseChannel
      .optional()
      .describe('Take new versions from a signed release channel (`airlock agent`, docs/releases.md) instead of building them.'),
    rollout: rolloutSchema.prefault({}),
    debug: z
      .strictObject({
        delve: z.boolean().default(false).describe('Go: build with -gcflags=all=-N -l and run each generation under `dlv exec --headless --accept-multiclient --continue` on a private port.'),
        inspect: z.boolean().default(false).describe('Node: run each generation with --inspect on a private port.'),
        listen: listenAddress
          .optional()
          .describe('The stable debugger address, forwarded to the serving generation: attach once, follow every reload. Default 127.0.0.1:2345 (delve) or 127.0.0.1:9229 (inspect).'),
      })
      .optional()
      .describe('A debugger on a stable address (docs/debugging.md).'),
    stop: z
      .strictObject({
        signal: z.enum(SIGNALS).default('SIGTERM'),
        timeout: duration('10s'),
        drain: duration('30s').describe('proxy modes: how long the old generation may finish open requests and connections before it is stopped.'),
      })
      .prefault({}),
  })
  .superRefine((service, ctx) => {
    if (service.go === undefined && service.node === undefined && service.run.cmd === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['run'],
        message: 'a service needs run.cmd, or a preset (go: { main: ./cmd/x } or node: {})',
      });
    }
    if (service.release !== undefined && (service.build !== undefined || service.go !== undefined || service.node !== undefined)) {
      ctx.addIssue({ code: 'custom', path: ['release'], message: 'a service takes its versions from a build (build, go, node) or from releases, not both; remove one' });
    }
    const probes = (['http', 'tcp', 'grpc', 'exec', 'log'] as const).filter((key) => service.health[key] !== undefined && service.health[key] !== false);
    if (probes.length > 1) {
      ctx.addIssue({ code: 'custom', path: ['health', probes[1] as string], message: `choose one readiness probe: ${probes.join(' and ')} are both set` });
    }
    if (service.health.log !== undefined) {
      try {
        new RegExp(service.health.log);
      } catch (error) {
        ctx.addIssue({ code: 'custom', path: ['health', 'log'], message: `health.log is not a valid regular expression: ${(error as Error).message}` });
      }
    }
    const handoff = service.handoff;
    // What planService makes of it when unset.
    const effective = handoff ?? (service.listen ? 'proxy' : 'restart');
    if ((handoff === 'fd' || handoff === 'proxy' || handoff === 'tcp-proxy') && service.listen === undefined) {
      ctx.addIssue({ code: 'custom', path: ['handoff'], message: `handoff ${handoff} needs listen (the address airlock serves); add listen: 127.0.0.1:PORT` });
    }
    if (service.rollout.strategy === 'canary' && effective !== 'proxy') {
      ctx.addIssue({
        code: 'custom',
        path: ['rollout', 'strategy'],
        message: `a canary splits HTTP requests in airlock's proxy: it needs handoff: proxy (and listen), not ${handoff ?? 'restart'}; use strategy: instant otherwise`,
      });
    }
    if (service.plugins?.release !== undefined && service.plugins.dir === undefined) {
      ctx.addIssue({ code: 'custom', path: ['plugins', 'release'], message: 'plugins from a channel need plugins.dir: the directory the app\'s PluginHost loads them from' });
    }
    if (service.plugins?.go.length && service.go === undefined) {
      ctx.addIssue({ code: 'custom', path: ['plugins', 'go'], message: 'Go plugins need the Go preset (go: { main: ... }): airlock builds them in its module' });
    }
    if (service.go !== undefined && service.node !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['node'], message: 'choose one preset: go or node, not both' });
    }
    checkDebug(service, ctx);
    if (service.proxy.liveReload && typeof service.proxy.workers === 'number' && service.proxy.workers > 1) {
      ctx.addIssue({ code: 'custom', path: ['proxy', 'workers'], message: `live reload rewrites HTML in airlock's own process: it needs proxy.workers: 1 (or auto), not ${service.proxy.workers}` });
    }
    if (typeof service.proxy.workers === 'number' && service.proxy.workers > 1 && effective !== 'proxy' && effective !== 'tcp-proxy') {
      ctx.addIssue({
        code: 'custom',
        path: ['proxy', 'workers'],
        message: `proxy.workers spreads airlock's proxy (handoff: proxy or tcp-proxy) over processes; handoff: ${effective} has no proxy: remove proxy.workers`,
      });
    }
    if (service.proxy.liveReload && effective !== 'proxy') {
      ctx.addIssue({ code: 'custom', path: ['proxy', 'liveReload'], message: `live reload rewrites HTML in airlock's HTTP proxy: it needs listen and handoff: proxy, not ${handoff ?? 'restart'}` });
    }
  });

/** debug: one debugger, and a handoff it can work under. */
function checkDebug(service: { debug?: { delve: boolean; inspect: boolean }; handoff?: string }, ctx: z.RefinementCtx): void {
  const debug = service.debug;
  if (debug === undefined) return;
  if (debug.delve === debug.inspect) {
    ctx.addIssue({ code: 'custom', path: ['debug'], message: debug.delve ? 'choose one debugger: delve (Go) or inspect (Node), not both' : 'debug needs delve: true (Go) or inspect: true (Node)' });
  }
  if (debug.delve && service.handoff === 'fd') {
    // dlv exec starts the program itself: LISTEN_PID would name dlv, and the program would refuse the sockets.
    ctx.addIssue({ code: 'custom', path: ['debug', 'delve'], message: 'debug.delve cannot pass sockets (handoff: fd) through dlv exec; use handoff: proxy or tcp-proxy while debugging' });
  }
}

/** Reports unknown names and cycles in dependsOn, at the offending entry. */
function checkDependencies(services: Record<string, { dependsOn: string[]; restartWith: string[] }>, ctx: z.RefinementCtx): void {
  const names = Object.keys(services);
  for (const [name, service] of Object.entries(services)) {
    // Only dependencies, which are acyclic: two services restarting each other would never stop.
    service.restartWith.forEach((dependency, index) => {
      if (!service.dependsOn.includes(dependency)) {
        ctx.addIssue({ code: 'custom', path: [name, 'restartWith', index], message: `"${dependency}" must also be in dependsOn of ${name}` });
      }
    });
    service.dependsOn.forEach((dependency, index) => {
      if (!names.includes(dependency)) {
        ctx.addIssue({ code: 'custom', path: [name, 'dependsOn', index], message: `no service named "${dependency}"; defined: ${names.join(', ')}` });
      } else if (dependency === name) {
        ctx.addIssue({ code: 'custom', path: [name, 'dependsOn', index], message: `a service cannot depend on itself` });
      }
    });
  }
  // A cycle: walk from each service; meeting the start again is one.
  for (const start of names) {
    const stack = [...(services[start]?.dependsOn ?? [])];
    const seen = new Set<string>();
    while (stack.length > 0) {
      const next = stack.pop() as string;
      if (next === start) {
        ctx.addIssue({ code: 'custom', path: [start, 'dependsOn'], message: `dependency cycle through "${start}"` });
        break;
      }
      if (seen.has(next) || !services[next]) continue;
      seen.add(next);
      stack.push(...(services[next]?.dependsOn ?? []));
    }
  }
}

/** Where the dashboard listens unless told (`ui:` without listen, `--ui` without an address). */
export const UI_LISTEN_DEFAULT = '127.0.0.1:9465';

export const configSchema = z.strictObject({
  $schema: z.string().optional(),
  metrics: z
    .strictObject({ listen: listenAddress.describe('Where GET /metrics (Prometheus text) is served, e.g. 127.0.0.1:9464.') })
    .optional(),
  ui: z
    .strictObject({ listen: listenAddress.prefault(UI_LISTEN_DEFAULT).describe('Where `airlock dev` serves its dashboard (docs/ui.md); loopback by default.') })
    .optional()
    .describe('The local dashboard, as with `airlock dev --ui`.'),
  /** How many builds may run at once across services (default: the number of cores). */
  builds: z.strictObject({ concurrency: z.number().int().min(1).optional() }).optional(),
  services: z
    .record(
      z.string().regex(/^[a-z][a-z0-9_-]*$/, 'service names use lower-case letters, digits, "-" and "_"'),
      serviceSchema,
    )
    .refine((services) => Object.keys(services).length > 0, 'define at least one service')
    .superRefine(checkDependencies),
});

export type ConfigInput = z.input<typeof configSchema>;
export type Config = z.output<typeof configSchema>;
export type ServiceConfig = z.output<typeof serviceSchema>;

/** The JSON Schema editors use for completion (shipped as packages/airlock/schema.json). */
export function jsonSchema(): unknown {
  return z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' });
}

export { formatMs };
