import type { Clock } from '../clock/clock.js';
import { type OptionNames, OptionsValidator } from '../errors/validate.js';

export interface MetricsOptions {
  /** Length of the sliding window that `snapshot()` reports on, in milliseconds. @default 60_000 */
  windowMs?: number;
  /** Sub-windows the window slides by, one 5 KiB sketch each; at most 6. @default 6 */
  subWindows?: number;
  /** Distinct error names counted in `errorsByType`; further names count as `'other'`. At most 20. @default 20 */
  maxErrorTypes?: number;
  /** Rotates the window and times observed calls. @default coarseSystemClock; systemClock for durations */
  clock?: Clock;
}

/** Every option `metrics` takes; any other name is rejected. */
export const METRICS_OPTION_NAMES = {
  windowMs: true,
  subWindows: true,
  maxErrorTypes: true,
  clock: true,
} as const satisfies OptionNames<MetricsOptions>;

export const METRICS_DEFAULTS = {
  windowMs: 60_000,
  subWindows: 6,
  maxErrorTypes: 20,
  /** Distinct rejection reasons and breaker names kept in lifetime totals; more fold into `'other'`. */
  maxLabels: 32,
} as const;

export interface ResolvedMetricsOptions {
  windowMs: number;
  subWindows: number;
  maxErrorTypes: number;
}

export function resolveMetricsOptions(options: MetricsOptions): ResolvedMetricsOptions {
  const v = new OptionsValidator('metrics');
  const o = v.known(options, METRICS_OPTION_NAMES);
  v.number('windowMs', o.windowMs, { min: 1 });
  v.integer('subWindows', o.subWindows, { min: 1, max: 6 });
  v.integer('maxErrorTypes', o.maxErrorTypes, { min: 1, max: 20 });
  v.clock('clock', o.clock);
  v.done();
  return {
    windowMs: options.windowMs ?? METRICS_DEFAULTS.windowMs,
    subWindows: options.subWindows ?? METRICS_DEFAULTS.subWindows,
    maxErrorTypes: options.maxErrorTypes ?? METRICS_DEFAULTS.maxErrorTypes,
  };
}

/** SLA targets for {@link slaReport}. */
export interface SlaTargets {
  /** Minimum share of successful calls. @default 0.999 */
  availability?: number;
  /** Maximum p95 latency in milliseconds. @default 500 */
  p95Ms?: number;
  /** Maximum share of failed calls. @default 0.01 */
  errorRate?: number;
}

/** What `slaReport` and `alerting().evaluate` take: the snapshot, not its collector. */
export const SNAPSHOT = 'a snapshot: collector.snapshot(), not the collector';

export const SLA_DEFAULTS = { availability: 0.999, p95Ms: 500, errorRate: 0.01 } as const;

/** Every target `slaReport` takes; any other name is rejected. */
export const SLA_TARGET_NAMES = {
  availability: true,
  p95Ms: true,
  errorRate: true,
} as const satisfies OptionNames<SlaTargets>;

export function resolveSlaTargets(targets: SlaTargets, snapshot: unknown): Required<SlaTargets> {
  const v = new OptionsValidator('slaReport');
  v.check(typeof (snapshot as { latency?: unknown } | null)?.latency === 'object', 'snapshot', snapshot, SNAPSHOT);
  const o = v.known(targets, SLA_TARGET_NAMES);
  v.number('availability', o.availability, { min: 0, max: 1 });
  v.number('p95Ms', o.p95Ms, { min: 0 });
  v.number('errorRate', o.errorRate, { min: 0, max: 1 });
  v.done();
  return { ...SLA_DEFAULTS, ...stripUndefined(targets) };
}

const stripUndefined = <T extends object>(o: T): Partial<T> =>
  Object.fromEntries(Object.entries(o).filter(([, value]) => value !== undefined)) as Partial<T>;

export interface RecentErrorsOptions {
  /**
   * Most errors kept; recording one more drops the oldest. Memory: about
   * `max × (maxMessageLength × 2 + 2200)` bytes at worst. At most 100 000. @default 100
   */
  max?: number;
  /** Characters of an error's message kept; longer messages are cut and end with `…`. @default 500 */
  maxMessageLength?: number;
  /** Stamps each error's `at`. @default systemClock */
  clock?: Clock;
}

/** Every option `recentErrors` takes; any other name is rejected. */
export const RECENT_ERRORS_OPTION_NAMES = {
  max: true,
  maxMessageLength: true,
  clock: true,
} as const satisfies OptionNames<RecentErrorsOptions>;

export const RECENT_ERRORS_DEFAULTS = { max: 100, maxMessageLength: 500 } as const;

export function resolveRecentErrorsOptions(options: RecentErrorsOptions): { max: number; maxMessageLength: number } {
  const v = new OptionsValidator('recentErrors');
  const o = v.known(options, RECENT_ERRORS_OPTION_NAMES);
  v.integer('max', o.max, { min: 1, max: 100_000 });
  v.integer('maxMessageLength', o.maxMessageLength, { min: 0 });
  v.clock('clock', o.clock);
  v.done();
  return {
    max: o.max ?? RECENT_ERRORS_DEFAULTS.max,
    maxMessageLength: o.maxMessageLength ?? RECENT_ERRORS_DEFAULTS.maxMessageLength,
  };
}
