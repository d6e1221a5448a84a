import type { Clock, Random } from '../clock/clock.js';
import { type OptionNames, OptionsValidator } from '../errors/validate.js';

export interface AdaptiveThrottleOptions {
  /** Requests sent per accepted one before load is shed (formula: docs/client.md). At least 1. @default 2 */
  k?: number;
  /** How far back requests and accepts are counted (Google SRE: two minutes). @default 120_000 */
  windowMs?: number;
  /** The highest rejection probability (1: uncapped). @default 0.8 */
  maxRejection?: number;
  /**
   * Whether a failure means the dependency refused the request (overload), not accepted it;
   * the toolkit's own rejections count as neither. @default isTransient (network, timeouts, 429, 5xx)
   */
  overloaded?: (error: unknown) => boolean;
  /** Name stamped on events. @default 'throttle' */
  name?: string;
  clock?: Clock;
  /** @default systemRandom */
  random?: Random;
}

/** Every option `adaptiveThrottle` takes; any other name is rejected. */
export const THROTTLE_OPTION_NAMES = {
  k: true,
  windowMs: true,
  maxRejection: true,
  overloaded: true,
  name: true,
  clock: true,
  random: true,
} as const satisfies OptionNames<AdaptiveThrottleOptions>;

export const THROTTLE_DEFAULTS = { k: 2, windowMs: 120_000, maxRejection: 0.8, name: 'throttle' } as const;

/** Buckets the window is cut into: it slides one bucket (a twelfth) at a time. */
export const THROTTLE_BUCKETS = 12;

/** Checks throttle options into `v`, as a nested option (`path`, e.g. `'throttle'`) or at the top. */
export function checkThrottleOptions(v: OptionsValidator, options: AdaptiveThrottleOptions | undefined, path?: string) {
  const o = v.known(options, THROTTLE_OPTION_NAMES, path);
  const name = (option: string) => (path === undefined ? option : `${path}.${option}`);
  v.number(name('k'), o.k, { min: 1 });
  v.number(name('windowMs'), o.windowMs, { min: THROTTLE_BUCKETS });
  v.number(name('maxRejection'), o.maxRejection, { min: 0, max: 1 });
  v.predicate(name('overloaded'), o.overloaded);
  v.string(name('name'), o.name);
  v.clock(name('clock'), o.clock);
  v.predicate(name('random'), o.random);
}

export function validateThrottleOptions(options: AdaptiveThrottleOptions): void {
  const v = new OptionsValidator('adaptiveThrottle');
  checkThrottleOptions(v, options);
  v.done();
}
