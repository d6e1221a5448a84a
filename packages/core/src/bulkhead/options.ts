import type { Clock } from '../clock/clock.js';
import type { AdaptiveLimit } from '../concurrency/adaptive-limit.js';
import { BOTTLENECK } from '../errors/hints.js';
import { type OptionNames, OptionsValidator } from '../errors/validate.js';

export interface BulkheadOptions {
  /** Calls allowed to run at once: a number, or an `adaptiveLimit(...)` that follows the calls' latency. Required. */
  limit: number | AdaptiveLimit;
  /**
   * Calls allowed to wait (FIFO) for an execution slot; beyond it calls are rejected with
   * `BulkheadRejectedError`. This is the memory bound of the queue. @default 0
   */
  queue?: number;
  /**
   * Longest wait in the queue, in ms: a call still queued after it is rejected with
   * `BulkheadRejectedError` (one timer serves the whole queue). @default no limit
   */
  maxQueueMs?: number;
  /** The `retryAfterMs` a rejection carries: the Retry-After a load-shedding server answers with. @default 1_000 */
  retryAfterMs?: number;
  /** Name stamped on events. @default 'bulkhead' */
  name?: string;
  /** Times calls for an adaptive limit and the queue's `maxQueueMs`. @default systemClock */
  clock?: Clock;
}

/** Every option `bulkhead` takes; any other name is rejected. */
export const BULKHEAD_OPTION_NAMES = {
  limit: true,
  queue: true,
  maxQueueMs: true,
  retryAfterMs: true,
  name: true,
  clock: true,
} as const satisfies OptionNames<BulkheadOptions>;

export const BULKHEAD_DEFAULTS = {
  queue: 0,
  name: 'bulkhead',
  retryAfterMs: 1_000,
} as const;

export interface ResolvedBulkheadOptions {
  limit: number;
  adaptive: AdaptiveLimit | undefined;
  queue: number;
  maxQueueMs: number;
  retryAfterMs: number;
  name: string;
}

const isAdaptiveLimit = (v: unknown): v is AdaptiveLimit =>
  typeof v === 'object' &&
  v !== null &&
  typeof (v as AdaptiveLimit).next === 'function' &&
  typeof (v as AdaptiveLimit).limitOf === 'function';

export function resolveBulkheadOptions(options: BulkheadOptions): ResolvedBulkheadOptions {
  const v = new OptionsValidator('bulkhead');
  const given = v.known(options, BULKHEAD_OPTION_NAMES, undefined, BOTTLENECK);
  const limit = given.limit;
  const adaptive = isAdaptiveLimit(limit) ? limit : undefined;
  v.required('limit', limit);
  v.check(
    limit === undefined || adaptive !== undefined || (Number.isSafeInteger(limit) && (limit as number) >= 1),
    'limit',
    limit,
    'an integer >= 1 or an adaptiveLimit(...)',
  );
  v.integer('queue', given.queue, { min: 0 });
  v.string('name', given.name);
  v.number('maxQueueMs', given.maxQueueMs, { gt: 0 });
  // A bound on a wait no call has: the caller meant a queue.
  v.check(given.maxQueueMs === undefined || !!given.queue, 'maxQueueMs', given.maxQueueMs, 'none without a queue');
  v.number('retryAfterMs', given.retryAfterMs, { min: 0 });
  v.clock('clock', given.clock);
  v.done();
  return {
    limit: adaptive === undefined ? (limit as number) : adaptive.limitOf(undefined),
    adaptive,
    queue: given.queue ?? BULKHEAD_DEFAULTS.queue,
    maxQueueMs: given.maxQueueMs ?? Number.POSITIVE_INFINITY,
    retryAfterMs: given.retryAfterMs ?? BULKHEAD_DEFAULTS.retryAfterMs,
    name: given.name ?? BULKHEAD_DEFAULTS.name,
  };
}
