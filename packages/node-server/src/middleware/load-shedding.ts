import type { ServerResponse } from 'node:http';
import {
  ADAPTIVE_LIMIT_DEFAULTS,
  type AdaptiveLimitOptions,
  adaptiveLimit,
  bulkhead,
  type Clock,
  isBulkheadRejectedError,
  type OptionNames,
} from '@resilience/core';
import { OptionsValidator } from '@resilience/core/internal';
import { requestSignal, whenResponseCloses } from '../request-state.js';
import type { Answer } from '../respond-once.js';
import { errorAnswer } from './answer.js';
import { MIDDLEWARE_DEFAULTS } from './defaults.js';

/** Options of the adapters' `loadShedding` middleware. */
export interface LoadSheddingOptions {
  /** Requests handled at once; with `adaptive`, the most the learned limit may reach. Required. */
  maxConcurrent: number;
  /** Requests that may wait for a slot; beyond, 503. @default 0 */
  queue?: number;
  /** Longest wait in the queue before a 503. @default no limit */
  maxQueueMs?: number;
  /**
   * Learn the limit from latency (`adaptiveLimit`, Gradient2-style) between `minLimit` and
   * `maxConcurrent`: `true`, or the options of `adaptiveLimit` but `maxLimit`. @default false
   */
  adaptive?: boolean | Omit<AdaptiveLimitOptions, 'maxLimit'>;
  /** The `Retry-After` of a 503, in ms. @default 1_000 */
  retryAfterMs?: number;
  /** Times requests for the adaptive limit and the queue. @default systemClock */
  clock?: Clock;
}

const OPTION_NAMES = {
  maxConcurrent: true,
  queue: true,
  maxQueueMs: true,
  adaptive: true,
  retryAfterMs: true,
  clock: true,
} as const satisfies OptionNames<LoadSheddingOptions>;

/**
 * Runs one request in the shedder: `next` is called once a slot is free; resolves `undefined`
 * once the request has run (its slot is held until `next`'s promise settles, or, without one,
 * until the response closes), or with the 503 to send when it was shed.
 */
export type Shed = (res: ServerResponse, next: () => unknown) => Promise<Answer | undefined>;

const closed = (res: ServerResponse) => new Promise<void>((resolve) => whenResponseCloses(res, resolve));

/** The load shedder shared by the Express and Koa adapters; see their `loadShedding`. */
export function loadShedder(options: LoadSheddingOptions): Shed {
  const v = new OptionsValidator('loadShedding');
  const o = v.known(options, OPTION_NAMES);
  v.required('maxConcurrent', o.maxConcurrent).integer('maxConcurrent', o.maxConcurrent, { min: 1 });
  v.integer('queue', o.queue, { min: 0 });
  v.number('maxQueueMs', o.maxQueueMs, { gt: 0 });
  v.number('retryAfterMs', o.retryAfterMs, { min: 0 });
  v.clock('clock', o.clock);
  const adaptive = o.adaptive;
  v.check(
    adaptive === undefined || typeof adaptive === 'boolean' || (typeof adaptive === 'object' && adaptive !== null),
    'adaptive',
    adaptive,
    'true, false or the options of adaptiveLimit (without maxLimit)',
  );
  v.done();
  const maxLimit = o.maxConcurrent as number;
  const limit =
    adaptive === undefined || adaptive === false
      ? maxLimit
      : adaptiveLimit({
          initialLimit: Math.min(ADAPTIVE_LIMIT_DEFAULTS.initialLimit, maxLimit),
          minLimit: Math.min(ADAPTIVE_LIMIT_DEFAULTS.minLimit, maxLimit),
          ...(adaptive === true ? {} : adaptive),
          maxLimit,
        });
  const queue = o.queue ?? MIDDLEWARE_DEFAULTS.loadShedding.queue;
  const shed = bulkhead({
    limit,
    queue,
    name: 'loadShedding',
    ...(o.maxQueueMs === undefined ? {} : { maxQueueMs: o.maxQueueMs }),
    ...(o.retryAfterMs === undefined ? {} : { retryAfterMs: o.retryAfterMs }),
    ...(o.clock === undefined ? {} : { clock: o.clock }),
  });

  return async function shedding(res, next) {
    let ran = false;
    const run = () => {
      ran = true;
      const handled = next();
      return handled instanceof Promise ? handled : closed(res);
    };
    try {
      // A queued request whose client left gives its place up; without a queue no signal is needed.
      await (queue > 0 ? shed.execute(run, requestSignal(res)) : shed.execute(run));
      return undefined;
    } catch (error) {
      if (!ran && isBulkheadRejectedError(error)) return errorAnswer(res, error);
      throw error;
    }
  };
}
