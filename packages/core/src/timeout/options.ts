import type { Clock } from '../clock/clock.js';
import { isPlainObject, type OptionNames, OptionsValidator } from '../errors/validate.js';
import {
  type AdaptiveLatencyOptions,
  PERCENTILE_ALLOWED,
  type Percentile,
  parsePercentile,
  type ResolvedAdaptive,
  resolveAdaptive,
} from '../metrics/adaptive.js';

/**
 * What happens when the time limit passes: `aggressive` (the default) rejects at once and
 * aborts the signal; `cooperative` aborts the signal and waits for the function. See
 * docs/timeout.md (Strategies).
 */
export type TimeoutStrategy = 'cooperative' | 'aggressive';

/**
 * A time limit in ms, or a function read as each call starts; a result that is not a finite number
 * above 0 runs that call without one.
 */
export type TimeoutMs = number | (() => number);

export interface TimeoutOptions {
  /** See {@link TimeoutStrategy}. @default 'aggressive' */
  strategy?: TimeoutStrategy;
  /** Name stamped on events. @default 'timeout' */
  name?: string;
  /** @default systemClock */
  clock?: Clock;
}

/** A soft/hard pair for long tasks: the signal aborts at `softMs`, the call rejects at `hardMs`. */
export interface SoftHardTimeoutOptions {
  /** When the signal passed to the function aborts (ms after the call starts). */
  softMs: number;
  /** When the call rejects with `TimeoutError` whether or not the function has settled. Must be ≥ `softMs`. */
  hardMs: number;
  /** Name stamped on events. @default 'timeout' */
  name?: string;
  /** @default systemClock */
  clock?: Clock;
}

/**
 * An adaptive limit learned from the latency of recent calls: `timeout({ ms: 'p99', min: 100, max: 10_000 })`,
 * the percentile clamped to `[min, max]` (`max` until enough latencies are known). How timed-out
 * calls count: docs/timeout.md.
 */
export interface AdaptiveTimeoutOptions extends TimeoutOptions, AdaptiveLatencyOptions {
  /** The percentile to use as the limit, e.g. `'p99'`. */
  ms: Percentile;
  /** The limit is never below this, in ms (> 0). Required: a learned p99 of 3 ms would fail calls on the first GC pause. */
  min: number;
  /** The limit is never above this, in ms (≥ `min`); it is also the limit before warm-up. Required. */
  max: number;
}

/** `timeout({ ms, ...options })`: the same as `timeout(ms, options)`. */
export interface FixedTimeoutOptions extends TimeoutOptions {
  ms: TimeoutMs;
}

/** Every option of `timeout(ms, options)`; any other name is rejected. */
export const TIMEOUT_OPTION_NAMES = {
  strategy: true,
  name: true,
  clock: true,
} as const satisfies OptionNames<TimeoutOptions>;

/** Every option of `timeout({ softMs, hardMs })`. */
export const SOFT_HARD_TIMEOUT_OPTION_NAMES = {
  softMs: true,
  hardMs: true,
  name: true,
  clock: true,
} as const satisfies OptionNames<SoftHardTimeoutOptions>;

/**
 * Every option of `timeout({ ms: 'pNN', min, max })`. Listed, not spread from the lists it
 * joins: a spread runs at import, in every bundle (`satisfies` keeps the list whole).
 */
export const ADAPTIVE_TIMEOUT_OPTION_NAMES = {
  strategy: true,
  name: true,
  clock: true,
  latency: true,
  minSamples: true,
  windowMs: true,
  refreshMs: true,
  refreshCalls: true,
  ms: true,
  min: true,
  max: true,
} as const satisfies OptionNames<AdaptiveTimeoutOptions>;

export const TIMEOUT_DEFAULTS = {
  strategy: 'aggressive',
  name: 'timeout',
} as const satisfies { strategy: TimeoutStrategy; name: string };

export interface ResolvedTimeoutOptions {
  /** Fixed limit (ms) or a source read per call. */
  ms: TimeoutMs;
  /** For a soft/hard pair: the extra ms between the signal aborting and the call rejecting. */
  hardGapMs: number | undefined;
  strategy: TimeoutStrategy;
  name: string;
  /** For `ms: 'pNN'`: the learned limit (`ms` then holds `max`, the fallback). */
  adaptive: ResolvedAdaptive | undefined;
}

const STRATEGIES: readonly TimeoutStrategy[] = ['cooperative', 'aggressive'];

export function resolveTimeoutOptions(
  msOrPair: TimeoutMs | FixedTimeoutOptions | SoftHardTimeoutOptions | AdaptiveTimeoutOptions,
  options: TimeoutOptions,
): ResolvedTimeoutOptions {
  const v = new OptionsValidator('timeout');
  if (typeof msOrPair === 'object' && msOrPair !== null) {
    // The first argument holds every option: a second one would be ignored.
    const none = options === undefined || (isPlainObject(options) && Object.keys(options).length === 0);
    v.check(none, 'options', options, 'nothing: with an options object first, every option goes in it');
  }
  // A revoked Proxy throws on `in`: isPlainObject says no first, and known() refuses it below.
  if (typeof msOrPair === 'object' && msOrPair !== null && isPlainObject(msOrPair as unknown) && 'ms' in msOrPair) {
    const { ms, ...rest } = msOrPair as FixedTimeoutOptions;
    // `{ ms: 5_000, strategy }`, as the HTTP clients take it: the fixed limit and its options.
    if (typeof ms !== 'string') {
      v.done();
      return resolveTimeoutOptions(ms, rest);
    }
    return resolveAdaptiveTimeout(v, v.known(msOrPair, ADAPTIVE_TIMEOUT_OPTION_NAMES) as AdaptiveTimeoutOptions);
  }
  if (typeof msOrPair === 'object' && msOrPair !== null) {
    const { softMs, hardMs, clock, name } = v.known(msOrPair as SoftHardTimeoutOptions, SOFT_HARD_TIMEOUT_OPTION_NAMES);
    v.clock('clock', clock);
    v.required('softMs', softMs).number('softMs', softMs, { gt: 0 });
    v.required('hardMs', hardMs).number('hardMs', hardMs, { gt: 0 });
    v.check(
      typeof softMs !== 'number' || typeof hardMs !== 'number' || hardMs >= softMs,
      'hardMs',
      hardMs,
      'a number >= softMs',
    );
    v.string('name', name);
    v.done();
    return {
      ms: softMs!,
      hardGapMs: hardMs! - softMs!,
      strategy: 'cooperative',
      name: name ?? TIMEOUT_DEFAULTS.name,
      adaptive: undefined,
    };
  }
  if (typeof msOrPair === 'string') {
    v.check(false, 'ms', msOrPair, "a number; for a percentile use timeout({ ms: 'p99', min, max })");
  } else if (typeof msOrPair === 'function')
    v.predicate('ms', msOrPair); // an async one answers no number
  else v.required('ms', msOrPair).number('ms', msOrPair, { gt: 0 });
  const o = v.known(options, TIMEOUT_OPTION_NAMES);
  v.oneOf('strategy', o.strategy, STRATEGIES);
  v.string('name', o.name);
  v.clock('clock', o.clock);
  v.done();
  return {
    ms: msOrPair,
    hardGapMs: undefined,
    strategy: options.strategy ?? TIMEOUT_DEFAULTS.strategy,
    name: options.name ?? TIMEOUT_DEFAULTS.name,
    adaptive: undefined,
  };
}

function resolveAdaptiveTimeout(v: OptionsValidator, options: AdaptiveTimeoutOptions): ResolvedTimeoutOptions {
  const { min, max } = options;
  const q = parsePercentile(options.ms);
  v.check(q !== undefined, 'ms', options.ms, PERCENTILE_ALLOWED);
  v.required('min', min).number('min', min, { gt: 0 });
  v.required('max', max).number('max', max, { gt: 0 });
  v.check(typeof min !== 'number' || typeof max !== 'number' || max >= min, 'max', max, 'a number >= min');
  v.oneOf('strategy', options.strategy, STRATEGIES);
  v.string('name', options.name);
  v.clock('clock', options.clock);
  const adaptive = resolveAdaptive(v, q ?? 0, min, max, options);
  v.done();
  return {
    ms: max,
    hardGapMs: undefined,
    strategy: options.strategy ?? TIMEOUT_DEFAULTS.strategy,
    name: options.name ?? TIMEOUT_DEFAULTS.name,
    adaptive,
  };
}
