import { type OptionNames, OptionsValidator } from '../errors/validate.js';

export interface AdaptiveLimitOptions {
  /** The limit before anything is learned; the first baseline is measured at half of it. @default 20 */
  initialLimit?: number;
  /** The least concurrency ever allowed (an integer ≥ 1). @default 1 */
  minLimit?: number;
  /** The most concurrency ever allowed: the memory bound of what the limit admits. @default 1_000 */
  maxLimit?: number;
  /**
   * How far the limit moves toward each round's new estimate: `1` jumps to it, `0.5` goes
   * half way. Lower is steadier and slower. Between 0 (exclusive) and 1. @default 0.5
   */
  smoothing?: number;
  /**
   * How much the round-trip time may exceed the baseline before the limit shrinks: `1.2`
   * lets latency rise 20 % (a little queueing keeps the upstream busy). At least 1. @default 1.2
   */
  tolerance?: number;
  /**
   * How often, in ms, the RTT baseline is measured again (at half the limit), so it follows a
   * lasting change of the upstream's speed. @default 60_000
   */
  baselineIntervalMs?: number;
  /** Calls per baseline measurement; their mean round-trip time is blended half-and-half with the previous baseline. @default 20 */
  baselineSamples?: number;
}

/** Every option of `adaptiveLimit`; any other name is rejected. */
export const ADAPTIVE_LIMIT_OPTION_NAMES = {
  initialLimit: true,
  minLimit: true,
  maxLimit: true,
  smoothing: true,
  tolerance: true,
  baselineIntervalMs: true,
  baselineSamples: true,
} as const satisfies OptionNames<AdaptiveLimitOptions>;

export const ADAPTIVE_LIMIT_DEFAULTS = {
  initialLimit: 20,
  minLimit: 1,
  maxLimit: 1_000,
  smoothing: 0.5,
  tolerance: 1.2,
  baselineIntervalMs: 60_000,
  baselineSamples: 20,
} as const;

export type ResolvedAdaptiveLimitOptions = { readonly [K in keyof AdaptiveLimitOptions]-?: number };

export function resolveAdaptiveLimitOptions(options: AdaptiveLimitOptions): ResolvedAdaptiveLimitOptions {
  const v = new OptionsValidator('adaptiveLimit');
  const o = v.known(options, ADAPTIVE_LIMIT_OPTION_NAMES);
  v.integer('initialLimit', o.initialLimit, { min: 1 });
  v.integer('minLimit', o.minLimit, { min: 1 });
  v.integer('maxLimit', o.maxLimit, { min: 1 });
  const minLimit = o.minLimit ?? ADAPTIVE_LIMIT_DEFAULTS.minLimit;
  const maxLimit = o.maxLimit ?? ADAPTIVE_LIMIT_DEFAULTS.maxLimit;
  const given = o.initialLimit;
  // The limits against each other, once each is a valid integer on its own.
  if (v.issues.length === 0) {
    v.check(maxLimit >= minLimit, 'maxLimit', o.maxLimit, `an integer >= minLimit (${minLimit})`);
    v.check(
      given === undefined || (given >= minLimit && given <= maxLimit),
      'initialLimit',
      given,
      `an integer between minLimit (${minLimit}) and maxLimit (${maxLimit})`,
    );
  }
  v.number('smoothing', o.smoothing, { gt: 0, max: 1 });
  v.number('tolerance', o.tolerance, { min: 1 });
  v.number('baselineIntervalMs', o.baselineIntervalMs, { gt: 0 });
  v.integer('baselineSamples', o.baselineSamples, { min: 1 });
  v.done();
  return {
    // Without an initial limit of its own, the default is brought within [minLimit, maxLimit].
    initialLimit: given ?? Math.min(maxLimit, Math.max(minLimit, ADAPTIVE_LIMIT_DEFAULTS.initialLimit)),
    minLimit,
    maxLimit,
    smoothing: o.smoothing ?? ADAPTIVE_LIMIT_DEFAULTS.smoothing,
    tolerance: o.tolerance ?? ADAPTIVE_LIMIT_DEFAULTS.tolerance,
    baselineIntervalMs: o.baselineIntervalMs ?? ADAPTIVE_LIMIT_DEFAULTS.baselineIntervalMs,
    baselineSamples: o.baselineSamples ?? ADAPTIVE_LIMIT_DEFAULTS.baselineSamples,
  };
}
