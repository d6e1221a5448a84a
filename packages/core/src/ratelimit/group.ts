import type { Clock } from '../clock/clock.js';
import { ConfigurationError } from '../errors/errors.js';
import { type OptionNames, OptionsValidator } from '../errors/validate.js';
import { MemoryStore } from '../store/memory.js';
import { storeNamespace } from '../store/namespace.js';
import { isStore, type Store } from '../store/store.js';
import type { RateLimitAlgorithm, RateLimitDecision } from './algorithm.js';
import { RateLimiter, type RateLimitStats } from './limiter.js';
import { isAlgorithmOption, type RateLimiterOptions, type WaitOptions } from './options.js';
import { perMinute } from './presets.js';
import { tokenBucket } from './token-bucket.js';

/** Requests per minute of the seed operations, per user or organisation. */
export const OPERATION_LIMITS_PER_MINUTE = { search: 30, transform: 10, embed: 60, health_check: 10 } as const;

type SeedOperation = keyof typeof OPERATION_LIMITS_PER_MINUTE;

/** The seed operations as token buckets: `n` a minute, bursts of up to `n`. */
export function defaultOperationLimits(): Record<SeedOperation, RateLimitAlgorithm> {
  const limits = Object.entries(OPERATION_LIMITS_PER_MINUTE).map(([op, n]) => [op, tokenBucket(perMinute(n))]);
  return Object.fromEntries(limits) as Record<SeedOperation, RateLimitAlgorithm>;
}

export interface RateLimitGroupOptions<O extends string> {
  /** The limit (or limits, all-or-nothing) of each operation. */
  // biome-ignore lint/suspicious/noExplicitAny: any algorithm's state.
  limits: Record<O, RateLimitAlgorithm<any> | readonly RateLimitAlgorithm<any>[]>;
  /** Shared by every operation; keys are namespaced `{rl:<name>:<operation>|` (see `storeNamespace`). @default memoryStore() */
  store?: Store;
  /** Stamped on events as `${name}.${operation}`. @default 'rateLimitGroup' */
  name?: string;
  /** Longest `wait()` of every operation. @default 60_000 */
  maxWaitMs?: number;
  /** Most calls waiting at once, per operation. @default 10_000 */
  maxWaiters?: number;
  clock?: Clock;
  /** What each operation's decision is when the store fails (see `rateLimiter`). @default 'open' */
  onStoreError?: RateLimiterOptions['onStoreError'];
  /** Each operation's denial cache over a networked store (see `rateLimiter`). @default { maxKeys: 10_000 } */
  denialCache?: RateLimiterOptions['denialCache'];
}

/** Every option `rateLimitGroup` takes; any other name is rejected. */
export const RATE_LIMIT_GROUP_OPTION_NAMES = {
  limits: true,
  store: true,
  name: true,
  maxWaitMs: true,
  maxWaiters: true,
  clock: true,
  onStoreError: true,
  denialCache: true,
} as const satisfies OptionNames<RateLimitGroupOptions<string>>;

export const RATE_LIMIT_GROUP_DEFAULTS = { name: 'rateLimitGroup' } as const;

/**
 * Named limits per operation, keyed per user or organisation: `consume('search', orgId)`.
 * One store for all operations.
 */
export class RateLimitGroup<O extends string = string> {
  readonly name: string;
  readonly #limiters = new Map<string, RateLimiter>();

  constructor(options: RateLimitGroupOptions<O>) {
    const v = new OptionsValidator('rateLimitGroup');
    const o = v.known(options, RATE_LIMIT_GROUP_OPTION_NAMES);
    const limits = o.limits;
    const entries = typeof limits === 'object' && limits !== null ? Object.entries(limits) : [];
    v.check(entries.length > 0, 'limits', limits, 'an object of operation name -> algorithm');
    for (const [operation, a] of entries) {
      v.check(isAlgorithmOption(a), `limits.${operation}`, a, 'an algorithm or a non-empty array of them');
    }
    v.check(o.store === undefined || isStore(o.store), 'store', o.store, 'a Store');
    v.string('name', o.name);
    v.number('maxWaitMs', o.maxWaitMs, { min: 0 });
    v.integer('maxWaiters', o.maxWaiters, { min: 0 });
    v.clock('clock', o.clock);
    v.done();
    this.name = options.name ?? RATE_LIMIT_GROUP_DEFAULTS.name;
    const store = options.store ?? new MemoryStore();
    const { maxWaitMs, maxWaiters, clock, onStoreError, denialCache } = options;
    for (const [operation, algorithm] of entries as [string, RateLimitGroupOptions<O>['limits'][O]][]) {
      this.#limiters.set(
        operation,
        new RateLimiter(
          {
            algorithm,
            store,
            name: `${this.name}.${operation}`,
            ...(maxWaitMs === undefined ? {} : { maxWaitMs }),
            ...(maxWaiters === undefined ? {} : { maxWaiters }),
            ...(clock === undefined ? {} : { clock }),
            ...(onStoreError === undefined ? {} : { onStoreError }),
            ...(denialCache === undefined ? {} : { denialCache }),
          },
          storeNamespace('rl', this.name, operation),
        ),
      );
    }
  }

  /** The operations of this group. */
  get operations(): O[] {
    return [...this.#limiters.keys()] as O[];
  }

  /** The limiter of one operation; throws `ConfigurationError` naming `operation` when unknown. */
  limiter(operation: O): RateLimiter {
    const limiter = this.#limiters.get(operation);
    if (limiter === undefined) throw this.#unknown(operation);
    return limiter;
  }

  consume(operation: O, key: string, cost?: number): Promise<RateLimitDecision> {
    return this.#with(operation, (l) => l.consume(key, cost));
  }

  peek(operation: O, key: string, cost?: number): Promise<RateLimitDecision> {
    return this.#with(operation, (l) => l.peek(key, cost));
  }

  wait(operation: O, key: string, options?: WaitOptions): Promise<RateLimitDecision> {
    return this.#with(operation, (l) => l.wait(key, options));
  }

  reset(operation: O, key: string): Promise<void> {
    return this.#with(operation, (l) => l.reset(key));
  }

  /** Calls `f` with the operation's limiter; an unknown operation rejects instead of throwing. */
  #with<T>(operation: O, f: (limiter: RateLimiter) => Promise<T>): Promise<T> {
    const limiter = this.#limiters.get(operation);
    return limiter === undefined ? Promise.reject(this.#unknown(operation)) : f(limiter);
  }

  #unknown(operation: string): ConfigurationError {
    return new ConfigurationError('rateLimitGroup', [
      { option: 'operation', received: operation, allowed: `one of ${this.operations.join(', ')}` },
    ]);
  }

  /** Stats per operation. */
  stats(): Record<O, RateLimitStats> {
    return Object.fromEntries([...this.#limiters].map(([op, l]) => [op, l.stats])) as Record<O, RateLimitStats>;
  }
}

/**
 * @example
 * const limits = rateLimitGroup({ limits: defaultOperationLimits() });
 * const d = await limits.consume('search', orgId);
 */
export function rateLimitGroup<O extends string>(options: RateLimitGroupOptions<O>): RateLimitGroup<O> {
  return new RateLimitGroup(options);
}
