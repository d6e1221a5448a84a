import type { Clock } from '../clock/clock.js';
import { ConfigurationError } from '../errors/errors.js';
import { OptionsValidator } from '../errors/validate.js';
import { MemoryStore } from '../store/memory.js';
import type { Store } from '../store/store.js';
import type { RateLimitAlgorithm, RateLimitDecision } from './algorithm.js';
import { RateLimiter, type RateLimitStats } from './limiter.js';
import type { WaitOptions } from './options.js';
import { tokenBucket } from './token-bucket.js';

/** Requests per minute of the seed operations, per user or organisation. */
export const OPERATION_LIMITS_PER_MINUTE = { search: 30, transform: 10, embed: 60 } as const;

/** The seed operations as token buckets: `n` a minute, bursts of up to `n`. */
export function defaultOperationLimits(): Record<keyof typeof OPERATION_LIMITS_PER_MINUTE, RateLimitAlgorithm> {
  const bucket = (perMinute: number) => tokenBucket({ capacity: perMinute, refillPerSecond: perMinute / 60 });
  return {
    search: bucket(OPERATION_LIMITS_PER_MINUTE.search),
    transform: bucket(OPERATION_LIMITS_PER_MINUTE.transform),
    embed: bucket(OPERATION_LIMITS_PER_MINUTE.embed),
  };
}

export interface RateLimitGroupOptions<O extends string> {
  /** The limit (or limits, all-or-nothing) of each operation. */
  // biome-ignore lint/suspicious/noExplicitAny: any algorithm's state.
  limits: Record<O, RateLimitAlgorithm<any> | readonly RateLimitAlgorithm<any>[]>;
  /** Shared by every operation; keys are prefixed `${name}:${operation}:`. @default memoryStore() */
  store?: Store;
  /** @default 'rateLimitGroup' */
  name?: string;
  maxWaitMs?: number;
  clock?: Clock;
}

/**
 * Named limits per operation, keyed per user or organisation: `consume('search', orgId)`.
 * One store for all operations.
 */
export class RateLimitGroup<O extends string = string> {
  readonly name: string;
  readonly #limiters = new Map<string, RateLimiter>();

  constructor(options: RateLimitGroupOptions<O>) {
    const v = new OptionsValidator('rateLimitGroup');
    const limits = options?.limits;
    v.check(
      typeof limits === 'object' && limits !== null && Object.keys(limits).length > 0,
      'limits',
      limits,
      'an object of operation name -> algorithm',
    );
    v.string('name', options?.name);
    v.done();
    this.name = options.name ?? 'rateLimitGroup';
    const store = options.store ?? new MemoryStore();
    for (const [operation, algorithm] of Object.entries(limits) as [string, RateLimitGroupOptions<O>['limits'][O]][]) {
      this.#limiters.set(
        operation,
        new RateLimiter({
          algorithm,
          store,
          name: `${this.name}.${operation}`,
          prefix: `${this.name}:${operation}:`,
          ...(options.maxWaitMs === undefined ? {} : { maxWaitMs: options.maxWaitMs }),
          ...(options.clock === undefined ? {} : { clock: options.clock }),
        }),
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
    if (limiter === undefined)
      throw new ConfigurationError('rateLimitGroup', [
        { option: 'operation', received: operation, allowed: `one of ${this.operations.join(', ')}` },
      ]);
    return limiter;
  }

  consume(operation: O, key: string, cost?: number): Promise<RateLimitDecision> {
    try {
      return this.limiter(operation).consume(key, cost);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  peek(operation: O, key: string, cost?: number): Promise<RateLimitDecision> {
    try {
      return this.limiter(operation).peek(key, cost);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  wait(operation: O, key: string, options?: WaitOptions): Promise<RateLimitDecision> {
    try {
      return this.limiter(operation).wait(key, options);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  reset(operation: O, key: string): Promise<void> {
    try {
      return this.limiter(operation).reset(key);
    } catch (error) {
      return Promise.reject(error);
    }
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
