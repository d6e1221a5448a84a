import type { Clock } from '../clock/clock.js';
import { BOTTLENECK } from '../errors/hints.js';
import { type OptionNames, OptionsValidator } from '../errors/validate.js';
import type { Store } from '../store/store.js';
import { isStore } from '../store/store.js';
import type { RateLimitAlgorithm } from './algorithm.js';

export interface RateLimiterOptions {
  /**
   * The limit, or several limits on the same key applied all-or-nothing (e.g. 10 per
   * second and 1 000 per hour: a request denied by one consumes from none).
   */
  // biome-ignore lint/suspicious/noExplicitAny: any algorithm's state.
  algorithm: RateLimitAlgorithm<any> | readonly RateLimitAlgorithm<any>[];
  /** Where the per-key state lives. @default memoryStore() (one per limiter) */
  store?: Store;
  /** Name stamped on events. @default 'rateLimiter' */
  name?: string;
  /**
   * The limiter's namespace in a store: only limiters with the same prefix and store share keys.
   * @default the limiter's `name` with a given store; none with its own
   */
  prefix?: string;
  /** Longest `wait()` (and `execute`) before rejecting with `RateLimitExceededError`. @default 60_000 */
  maxWaitMs?: number;
  /**
   * Most calls waiting at once over all keys; one more rejects at once with `RateLimitExceededError`.
   * @default 10_000
   */
  maxWaiters?: number;
  /**
   * The time source; the default reads the system clock at most once a millisecond (limits
   * refill up to 1 ms late, never early).
   * @default coarseSystemClock
   */
  clock?: Clock;
  /**
   * When the store fails (`StoreUnavailableError`): `'open'` passes (`degraded: true`),
   * `'closed'` rejects, a store decides instead. See docs/rate-limiting.md.
   * @default 'open'
   */
  onStoreError?: 'open' | 'closed' | Store;
  /**
   * Over a networked store, each key's latest denial is refused again locally until its
   * `retryAfterMs` has passed (at most `maxKeys`, oldest dropped first). `false`: off.
   * @default { maxKeys: 10_000 }
   */
  denialCache?: DenialCacheOptions | false;
}

export interface DenialCacheOptions {
  /** Most keys whose denial is remembered. @default 10_000 */
  maxKeys?: number;
}

/** Every option `rateLimiter` takes; any other name is rejected. */
export const RATE_LIMITER_OPTION_NAMES = {
  algorithm: true,
  store: true,
  name: true,
  prefix: true,
  maxWaitMs: true,
  maxWaiters: true,
  clock: true,
  onStoreError: true,
  denialCache: true,
} as const satisfies OptionNames<RateLimiterOptions>;

const DENIAL_CACHE_OPTION_NAMES = { maxKeys: true } as const satisfies OptionNames<DenialCacheOptions>;

export const RATE_LIMITER_DEFAULTS = {
  name: 'rateLimiter',
  maxWaitMs: 60_000,
  maxWaiters: 10_000,
  onStoreError: 'open',
  denialCache: { maxKeys: 10_000 },
} as const;

export interface WaitOptions {
  /** Cost taken when the wait resolves. @default 1 */
  cost?: number;
  /** Rejects with `RateLimitExceededError` once the key's next admission is due past this. @default the limiter's maxWaitMs (60_000) */
  maxWaitMs?: number;
  /**
   * Aborts the wait (rejects with `signal.reason`); nothing is consumed, unless the abort
   * lands while an asynchronous store is already taking the cost.
   */
  signal?: AbortSignal;
}

export const WAIT_OPTION_NAMES = {
  cost: true,
  maxWaitMs: true,
  signal: true,
} as const satisfies OptionNames<WaitOptions>;

const isAlgorithm = (a: unknown): boolean =>
  typeof a === 'object' && a !== null && typeof (a as RateLimitAlgorithm).consume?.apply === 'function';

/** An `algorithm` option: one algorithm, or a non-empty array of them. */
export const isAlgorithmOption = (a: unknown): boolean =>
  Array.isArray(a) ? a.length > 0 && a.every(isAlgorithm) : isAlgorithm(a);

export function validateRateLimiterOptions(options: RateLimiterOptions): void {
  const v = new OptionsValidator('rateLimiter');
  const o = v.known(options, RATE_LIMITER_OPTION_NAMES, undefined, BOTTLENECK);
  const a = o.algorithm;
  v.check(
    isAlgorithmOption(a),
    'algorithm',
    a,
    'tokenBucket(...), gcra(...), slidingWindow(...), fixedWindow(...) or a non-empty array of them',
  );
  v.check(o.store === undefined || isStore(o.store), 'store', o.store, 'a Store');
  v.string('name', o.name);
  v.check(o.prefix === undefined || typeof o.prefix === 'string', 'prefix', o.prefix, 'a string');
  v.number('maxWaitMs', o.maxWaitMs, { min: 0 });
  v.integer('maxWaiters', o.maxWaiters, { min: 0 });
  v.clock('clock', o.clock);
  const onStoreError = o.onStoreError;
  v.check(
    onStoreError === undefined || onStoreError === 'open' || onStoreError === 'closed' || isStore(onStoreError),
    'onStoreError',
    onStoreError,
    "'open', 'closed' or a Store to decide while the store fails",
  );
  const cache = o.denialCache;
  if (cache !== false && cache !== undefined) {
    const c = v.known(cache, DENIAL_CACHE_OPTION_NAMES, 'denialCache');
    v.integer('denialCache.maxKeys', c.maxKeys, { min: 1 });
  }
  v.done();
}

/**
 * The checks of one `wait` or `policy(...)` call: `cost` (a number >= 0 no larger than the
 * limits can ever admit) and `maxWaitMs`. Returns the validator so a caller can add checks
 * before `done()` throws one `ConfigurationError` naming each bad option.
 */
export function checkWait(v: OptionsValidator, cost: unknown, maxCost: number, maxWaitMs: unknown): OptionsValidator {
  return v.number('cost', cost, { min: 0, max: maxCost }).number('maxWaitMs', maxWaitMs, { min: 0 });
}
