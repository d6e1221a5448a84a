import type { ServerResponse } from 'node:http';
import {
  ADAPTIVE_LIMIT_DEFAULTS,
  type AdaptiveLimitOptions,
  adaptiveLimit,
  bulkhead,
  type Clock,
  isBulkheadRejectedError,
  isRequestTimeoutError,
  type OptionNames,
  systemClock,
} from '@resilience/core';
import { emitHttpDecision, OptionsValidator } from '@resilience/core/internal';
import { ClientDisconnectedError } from '../errors.js';
import { requestSignal, responseError, whenResponseCloses } from '../request-state.js';
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
  /**
   * Express only (Koa holds a slot until the handler's promise settles): the longest a request
   * whose client left, or that a `timeout` answered, keeps its slot while its handler has not
   * ended the response, for a handler that gives up without answering. @default 30_000
   */
  abandonedHoldMs?: number;
  /** Times requests for the adaptive limit, the queue and `abandonedHoldMs`. @default systemClock */
  clock?: Clock;
}

const OPTION_NAMES = {
  maxConcurrent: true,
  queue: true,
  maxQueueMs: true,
  adaptive: true,
  retryAfterMs: true,
  abandonedHoldMs: true,
  clock: true,
} as const satisfies OptionNames<LoadSheddingOptions>;

/**
 * Runs one request in the shedder: `next` is called once a slot is free; resolves `undefined`
 * once the request has run (its slot is held until `next`'s promise settles, or, without one,
 * until the handler ends the response: see {@link heldUntilEnd}), or with the 503 to send
 * when it was shed.
 */
export type Shed = (res: ServerResponse, next: () => unknown) => Promise<Answer | undefined>;

/**
 * The slot of a request whose handler gives no promise (Express): held until the response
 * closes, and, when the handler may still run then, on until it ends the response or
 * `holdMs` pass, whichever comes first. It may still run when the response closed unended
 * without an error of the server's (the client left), or when a `timeout` answered for it.
 * A hold that outlived its client ends rejected with the disconnect, a cancellation: the
 * bulkhead takes no adaptive sample from it (its end may be the handler's or the error
 * path's once the handler gave up; how soon is no measure of the load). A timed-out one is
 * a sample: its handler took that long. A request whose client stays costs what it did: a
 * promise and the callback of the response's `close`.
 */
function heldUntilEnd(res: ServerResponse, clock: Clock, holdMs: number): Promise<void> {
  return new Promise((resolve, reject) =>
    whenResponseCloses(res, () => {
      const error = responseError(res);
      if (isRequestTimeoutError(error)) outliveAnswer(res, resolve, clock, holdMs);
      else if (res.writableEnded || error !== undefined) resolve();
      else outliveAnswer(res, () => reject(new ClientDisconnectedError()), clock, holdMs);
    }),
  );
}

/** Calls `done` when the handler ends `res` (which writes nothing now), or after `holdMs`: whichever is first. */
function outliveAnswer(res: ServerResponse, done: () => void, clock: Clock, holdMs: number): void {
  let held = true;
  const release = () => {
    if (!held) return;
    held = false;
    clock.clearTimeout(timer);
    done();
  };
  const timer = clock.setTimeout(release, holdMs);
  const end = res.end;
  res.end = function ended(this: ServerResponse, ...args: Parameters<ServerResponse['end']>) {
    release();
    return end.apply(this, args);
  } as ServerResponse['end'];
}

/** The load shedder shared by the Express and Koa adapters; see their `loadShedding`. */
export function loadShedder(options: LoadSheddingOptions): Shed {
  const v = new OptionsValidator('loadShedding');
  const o = v.known(options, OPTION_NAMES);
  v.required('maxConcurrent', o.maxConcurrent).integer('maxConcurrent', o.maxConcurrent, { min: 1 });
  v.integer('queue', o.queue, { min: 0 });
  v.number('maxQueueMs', o.maxQueueMs, { gt: 0 });
  v.number('retryAfterMs', o.retryAfterMs, { min: 0 });
  v.number('abandonedHoldMs', o.abandonedHoldMs, { gt: 0 });
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

  const clock = o.clock ?? systemClock;
  const holdMs = o.abandonedHoldMs ?? MIDDLEWARE_DEFAULTS.loadShedding.abandonedHoldMs;

  return async function shedding(res, next) {
    // What became of the request: not yet run, run with a promise of its handler's, or held.
    let ran = false as false | 'handled' | 'held';
    const run = () => {
      ran = 'handled';
      const handled = next();
      if (handled instanceof Promise) return handled;
      ran = 'held';
      return heldUntilEnd(res, clock, holdMs);
    };
    try {
      // A queued request whose client left gives its place up; without a queue no signal is needed.
      await (queue > 0 ? shed.execute(run, requestSignal(res)) : shed.execute(run));
      return undefined;
    } catch (error) {
      if (ran === 'held') return undefined; // the hold outlived its client: the request has run
      if (ran !== false || !isBulkheadRejectedError(error)) throw error;
      emitHttpDecision({ decision: 'shed' });
      return errorAnswer(res, error);
    }
  };
}
