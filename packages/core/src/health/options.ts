import type { Clock } from '../clock/clock.js';
import { type OptionNames, OptionsValidator } from '../errors/validate.js';

/** The outcome of one check: `warn` is a pass that deserves attention. */
export type HealthCheckStatus = 'pass' | 'warn' | 'fail';

/** The overall state of a registry; see {@link HealthRegistry.run} for the rules. */
export type HealthStatus = 'healthy' | 'degraded' | 'unhealthy';

/**
 * Kubernetes probe kinds: a failing liveness probe restarts the container, a failing
 * readiness probe takes it out of service. A dependency outage belongs to readiness.
 */
export type HealthCheckKind = 'liveness' | 'readiness';

/**
 * What a check may return instead of `true`/`false`, to report a measurement or a warning.
 * `status` defaults to `'pass'`; `'fail'` fails the check with `output` as its error.
 *
 * @example
 * async () => ({ status: lag > 5_000 ? 'warn' : 'pass', observedValue: lag, observedUnit: 'ms' })
 */
export interface HealthCheckDetail {
  status?: HealthCheckStatus;
  /** The measured value (a number, a string such as a breaker state, ...). */
  observedValue?: unknown;
  /** The unit of `observedValue`: `'ms'`, `'percent'`, ... */
  observedUnit?: string;
  /** A human-readable note, reported when the status is not `pass`. */
  output?: string;
}

/**
 * A health check. It receives a signal that aborts when its `timeoutMs` passes. It fails by
 * throwing, rejecting or returning `false` or an `Error`; it warns by returning `'warn'` (or a
 * detail with `status: 'warn'`); anything else (`true`, `undefined`, a detail) passes.
 */
/** What a check may return or resolve with; see {@link HealthCheck}. */
export type HealthCheckValue = boolean | undefined | 'warn' | Error | HealthCheckDetail;

// biome-ignore lint/suspicious/noConfusingVoidType: any async function resolving with nothing (Promise<void>) is a passing check
export type HealthCheck = (signal: AbortSignal) => HealthCheckValue | PromiseLike<HealthCheckValue | void>;

export interface HealthOptions {
  /**
   * How long a `run()` result is reused, so frequent probes don't hammer dependencies.
   * Concurrent `run()` calls share one run whatever this is. @default 0
   */
  cacheMs?: number;
  clock?: Clock;
}

export interface HealthCheckOptions {
  /** Time allowed to the check; past it the check fails and its signal aborts. @default 5_000 */
  timeoutMs?: number;
  /** Whether this check down makes the registry `unhealthy` (else `degraded`, unless every check is down). @default false */
  critical?: boolean;
  /** Failures in a row after which the check is down (before that, `degraded`). @default 1 */
  failureThreshold?: number;
  /** Which probe the check belongs to (`run({ kind })`). @default 'readiness' */
  kind?: HealthCheckKind;
  /** `componentId` in `application/health+json` (a host name, a UUID). */
  componentId?: string;
  /** `componentType` in `application/health+json`: `'component'`, `'datastore'`, `'system'` or your own. */
  componentType?: string;
}

/** Every option `health` takes; any other name is rejected. */
export const HEALTH_OPTION_NAMES = { cacheMs: true, clock: true } as const satisfies OptionNames<HealthOptions>;

/** Every option of `register(name, check, options)`; any other name is rejected. */
export const HEALTH_CHECK_OPTION_NAMES = {
  timeoutMs: true,
  critical: true,
  failureThreshold: true,
  kind: true,
  componentId: true,
  componentType: true,
} as const satisfies OptionNames<HealthCheckOptions>;

export const HEALTH_DEFAULTS = {
  cacheMs: 0,
  timeoutMs: 5_000,
  critical: false,
  failureThreshold: 1,
  kind: 'readiness',
  intervalMs: 30_000,
} as const;

/** Options of `health.start`. */
export interface HealthStartOptions {
  /** Time from the end of one round of checks to the start of the next, in ms. @default 30_000 */
  intervalMs?: number;
}

/** Every option of `health.start`; any other name is rejected. */
export const HEALTH_START_OPTION_NAMES = { intervalMs: true } as const satisfies OptionNames<HealthStartOptions>;

export function resolveHealthStartOptions(options: HealthStartOptions): number {
  const v = new OptionsValidator('health.start');
  v.number('intervalMs', v.known(options, HEALTH_START_OPTION_NAMES).intervalMs, { gt: 0 });
  v.done();
  return options.intervalMs ?? HEALTH_DEFAULTS.intervalMs;
}

export interface ResolvedHealthCheckOptions {
  timeoutMs: number;
  critical: boolean;
  failureThreshold: number;
  kind: HealthCheckKind;
  componentId: string | undefined;
  componentType: string | undefined;
}

export const KINDS: readonly HealthCheckKind[] = ['liveness', 'readiness'];

export function validateHealthOptions(options: HealthOptions): void {
  const v = new OptionsValidator('health');
  const o = v.known(options, HEALTH_OPTION_NAMES);
  v.number('cacheMs', o.cacheMs, { min: 0, max: 2 ** 31 * 1_000 });
  v.clock('clock', o.clock);
  v.done();
}

export function resolveHealthCheckOptions(
  name: unknown,
  check: unknown,
  options: HealthCheckOptions,
  taken: boolean,
): ResolvedHealthCheckOptions {
  const v = new OptionsValidator('health check');
  v.required('name', name).string('name', name);
  v.check(!taken, 'name', name, 'a name not registered yet');
  v.check(name !== '__proto__', 'name', name, 'a name other than __proto__, which cannot be a key of a report');
  v.required('check', check).function('check', check);
  const o = v.known(options, HEALTH_CHECK_OPTION_NAMES);
  v.number('timeoutMs', o.timeoutMs, { gt: 0 });
  v.boolean('critical', o.critical);
  v.integer('failureThreshold', o.failureThreshold, { min: 1 });
  v.oneOf('kind', o.kind, KINDS);
  v.string('componentId', o.componentId);
  v.string('componentType', o.componentType);
  v.done();
  return {
    timeoutMs: options.timeoutMs ?? HEALTH_DEFAULTS.timeoutMs,
    critical: options.critical ?? HEALTH_DEFAULTS.critical,
    failureThreshold: options.failureThreshold ?? HEALTH_DEFAULTS.failureThreshold,
    kind: options.kind ?? HEALTH_DEFAULTS.kind,
    componentId: options.componentId,
    componentType: options.componentType,
  };
}
