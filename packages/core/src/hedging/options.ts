import type { Clock } from '../clock/clock.js';
import { type OptionNames, OptionsValidator } from '../errors/validate.js';
import {
  ADAPTIVE_LATENCY_OPTION_NAMES,
  type AdaptiveLatencyOptions,
  PERCENTILE_ALLOWED,
  type Percentile,
  parsePercentile,
  type ResolvedAdaptive,
  resolveAdaptive,
} from '../metrics/adaptive.js';

export interface HedgeOptions extends AdaptiveLatencyOptions {
  /** Wait before another attempt, in ms; a function read per call; or a percentile, `'p95'`. */
  delayMs: number | (() => number) | Percentile;
  /** Extra attempts at most (so up to `1 + maxHedges` run at once). This bounds the work per call. @default 1 */
  maxHedges?: number;
  /**
   * Which failed attempts are worth failing over (start the next hedge at once, wait for the
   * others); any other error is the call's answer. @default every error
   */
  handle?: (error: unknown) => boolean;
  /** Percentile delays only: the learned delay is never below this, in ms. @default 0 */
  min?: number;
  /** Percentile delays only: the learned delay is never above this, in ms. @default Infinity */
  max?: number;
  /** Name stamped on events. @default 'hedge' */
  name?: string;
  /** @default systemClock */
  clock?: Clock;
}

/** Every option `hedge` takes; any other name is rejected. */
export const HEDGE_OPTION_NAMES = {
  // Listed, not spread from ADAPTIVE_LATENCY_OPTION_NAMES: a spread runs at import, in every bundle.
  latency: true,
  minSamples: true,
  windowMs: true,
  refreshMs: true,
  refreshCalls: true,
  delayMs: true,
  maxHedges: true,
  handle: true,
  min: true,
  max: true,
  name: true,
  clock: true,
} as const satisfies OptionNames<HedgeOptions>;

export const HEDGE_DEFAULTS = {
  maxHedges: 1,
  min: 0,
  max: Infinity,
  name: 'hedge',
} as const;

export interface ResolvedHedgeOptions {
  /** A fixed delay or a function; `undefined` for a percentile (see `adaptive`). */
  delayMs: number | (() => number) | undefined;
  adaptive: ResolvedAdaptive | undefined;
  maxHedges: number;
  handle: ((error: unknown) => boolean) | undefined;
  name: string;
}

export function resolveHedgeOptions(options: HedgeOptions): ResolvedHedgeOptions {
  const v = new OptionsValidator('hedge');
  const given = v.known(options, HEDGE_OPTION_NAMES);
  const delayMs: unknown = given.delayMs;
  v.required('delayMs', delayMs);
  const q = parsePercentile(delayMs);
  if (typeof delayMs === 'string') v.check(q !== undefined, 'delayMs', delayMs, PERCENTILE_ALLOWED);
  else if (typeof delayMs === 'function') v.predicate('delayMs', delayMs);
  else v.number('delayMs', delayMs, { min: 0 });
  v.integer('maxHedges', given.maxHedges, { min: 0, max: 100 });
  v.predicate('handle', given.handle);
  v.string('name', given.name);
  v.clock('clock', given.clock);
  let adaptive: ResolvedAdaptive | undefined;
  if (q !== undefined) {
    const min = given.min ?? HEDGE_DEFAULTS.min;
    const max = given.max ?? HEDGE_DEFAULTS.max;
    v.number('min', given.min, { min: 0 });
    v.check(
      given.max === undefined || (typeof given.max === 'number' && given.max >= 0),
      'max',
      given.max,
      'a number >= 0',
    );
    v.check(!(typeof min === 'number' && typeof max === 'number' && max < min), 'max', given.max, 'a number >= min');
    adaptive = resolveAdaptive(v, q, min, max, given);
  } else if (typeof delayMs !== 'string') {
    const learning = ['min', 'max', ...Object.keys(ADAPTIVE_LATENCY_OPTION_NAMES)] as (keyof HedgeOptions)[];
    for (const option of learning) {
      v.check(
        given[option] === undefined,
        option,
        given[option],
        "nothing unless delayMs is a percentile such as 'p95'",
      );
    }
  }
  v.done();
  return {
    delayMs: q === undefined ? (delayMs as number | (() => number)) : undefined,
    adaptive,
    maxHedges: given.maxHedges ?? HEDGE_DEFAULTS.maxHedges,
    handle: given.handle,
    name: given.name ?? HEDGE_DEFAULTS.name,
  };
}
