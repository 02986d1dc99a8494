/**
 * What airlock tells a generation through its environment.
 *
 * @example
 *   import { airlockEnv } from '@airlock/runtime/env';
 *   const { port, generation } = airlockEnv();
 *   server.listen(port ?? 3000);
 */
export interface AirlockEnv {
  /** The service name from airlock.yaml (AIRLOCK_SERVICE); undefined when not run by airlock. */
  readonly service: string | undefined;
  /** 1 for the first started process, then one more per reload (AIRLOCK_GENERATION). */
  readonly generation: number | undefined;
  /** The port to listen on (PORT), when the service has `listen`. */
  readonly port: number | undefined;
}

function positiveInteger(value: string | undefined): number | undefined {
  if (value === undefined || !/^\d+$/.test(value)) return undefined;
  const n = Number(value);
  return n > 0 ? n : undefined;
}

/** Reads the airlock variables from an environment (process.env by default). */
export function airlockEnv(env: Readonly<Record<string, string | undefined>> = process.env): AirlockEnv {
  return {
    service: env.AIRLOCK_SERVICE || undefined,
    generation: positiveInteger(env.AIRLOCK_GENERATION),
    port: positiveInteger(env.PORT),
  };
}
