import type { ServerResponse } from 'node:http';
import {
  type AdaptiveLimitOptions,
  adaptiveLimit,
  type BulkheadOptions,
  bulkhead,
  type Clock,
  isBulkheadRejectedError,
  isRequestTimeoutError,
  type OptionNames,
  systemClock,
} from '@resilience/core';
import { checkNested, emitHttpDecision, OptionsValidator } from '@resilience/core/internal';
import { isEnded } from '../accessors.js';
import { ClientDisconnectedError } from '../errors.js';
import { outlive } from '../outlive.js';
import { claimResponse, lateResponse, requestSignal, responseError, whenResponseCloses } from '../request-state.js';
import type { Answer } from '../respond-once.js';
import { errorAnswer } from './answer.js';
import { MIDDLEWARE_DEFAULTS } from './defaults.js';
import { refuseUncalled } from './uncalled.js';

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
   * The longest a request keeps its slot while its handler runs on once a `timeout` answered it
   * or (Express) its client left: a bound for a handler that never ends. @default 30_000
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
 * Runs one request in the shedder: calls `next` once a slot is free, or `refuse(context, 503)`
 * when the request is shed. Returns what the caller follows: `next`'s promise (Koa: the rest
 * of the chain) when it ran at once; `undefined` when it ran at once and gave none (Express);
 * else a promise that settles once the request ran or was refused, rejecting only with an
 * error that stopped it before it ran (a queued request whose client left), or that its refusal
 * could not be sent (a header Node refuses). The slot is held
 * while the handler runs: see {@link heldUntilEnd} and {@link lateHold}.
 */
export type Shed<C> = (res: ServerResponse, next: () => unknown, context: C) => Promise<unknown> | undefined;

/**
 * Koa, once the chain's promise settled: a promise of the end of a handler the toolkit
 * answered for (a `timeout` mounted after loadShedding settles the chain at its deadline while
 * the handler runs on), or `undefined` for any other request (the chain was the handler).
 */
function lateHold(res: ServerResponse, clock: Clock, holdMs: number): Promise<void> | undefined {
  return lateResponse(res) === undefined ? undefined : new Promise((resolve) => outlive(res, resolve, clock, holdMs));
}

/**
 * The slot of a request whose handler gives no promise (Express): held until the response
 * closes, and, when the handler may still run then, on until it is done or `holdMs` pass,
 * whichever comes first. It may still run when a `timeout` answered for it, or cut off a body
 * under way, or when the response closed unended without an error of the server's (the client
 * left). A hold that outlived its client ends rejected with the disconnect, a cancellation:
 * the bulkhead takes no adaptive sample from it (its end may be the handler's or the error
 * path's once the handler gave up; how soon is no measure of the load). A timed-out one is a
 * sample: its handler took that long. A request whose client stays costs what it did: a
 * promise and the callback of the response's `close`.
 */
function heldUntilEnd(res: ServerResponse, clock: Clock, holdMs: number): Promise<void> {
  return new Promise((resolve, reject) =>
    whenResponseCloses(res, () => {
      const error = responseError(res);
      // A late response is made with an error (the timeout's, or the handler's failure after it).
      if (error !== undefined && (lateResponse(res) !== undefined || isRequestTimeoutError(error))) {
        outlive(res, resolve, clock, holdMs);
      } else if (isEnded(res) || error !== undefined || res.errored) resolve();
      else outlive(res, () => reject(new ClientDisconnectedError()), clock, holdMs);
    }),
  );
}

/**
 * Koa, once the chain's promise settled with a streamed body still to be sent: held until the
 * response closes; rejected, as {@link heldUntilEnd}, when its client left first (no sample).
 */
function heldWhileSent(res: ServerResponse): Promise<void> {
  return new Promise((resolve, reject) =>
    whenResponseCloses(res, () =>
      isEnded(res) || responseError(res) !== undefined || res.errored
        ? resolve()
        : reject(new ClientDisconnectedError()),
    ),
  );
}

const ignore = () => {};

/**
 * The load shedder shared by the Express and Koa adapters; see their `loadShedding`.
 * `refuse` sends a shed request's 503 through the framework (`context`: Express's `res`,
 * Koa's `ctx`).
 */
export function loadShedder<C>(
  options: LoadSheddingOptions,
  refuse: (context: C, answer: Answer) => void | Promise<void>,
  streamed?: (context: C) => boolean,
): Shed<C> {
  refuseUncalled('loadShedding', options);
  const v = new OptionsValidator('loadShedding');
  const o = v.known(options, OPTION_NAMES);
  v.required('maxConcurrent', o.maxConcurrent).integer('maxConcurrent', o.maxConcurrent, { min: 1 });
  v.integer('queue', o.queue, { min: 0 });
  v.number('maxQueueMs', o.maxQueueMs, { gt: 0 });
  // A bound on a wait nobody has: the user meant a queue.
  v.check(
    o.maxQueueMs === undefined || !!o.queue,
    'maxQueueMs',
    o.maxQueueMs,
    'nothing without a queue (queue is 0: no request waits)',
  );
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
  const own = typeof adaptive === 'object' && adaptive !== null ? adaptive : {};
  v.check(
    !('maxLimit' in own),
    'adaptive.maxLimit',
    (own as AdaptiveLimitOptions).maxLimit,
    'nothing (maxConcurrent is its maximum)',
  );
  const maxLimit = o.maxConcurrent as number;
  // Checked as `adaptive.*`, in one error with the rest; the maxLimit it is given is maxConcurrent.
  const adaptiveLimited = adaptive
    ? checkNested(
        v,
        'adaptive',
        () => adaptiveLimit({ ...own, maxLimit }),
        ['maxConcurrent', 'adaptive', 'adaptive.maxLimit'],
        {
          'adaptive.maxLimit': 'maxConcurrent',
        },
      )
    : undefined;
  v.done();
  const limit = adaptiveLimited ?? maxLimit;
  const queue = o.queue ?? MIDDLEWARE_DEFAULTS.loadShedding.queue;
  // Core reads an option set to `undefined` as one not given.
  const shed = bulkhead({
    limit,
    queue,
    name: 'loadShedding',
    maxQueueMs: o.maxQueueMs,
    retryAfterMs: o.retryAfterMs,
    clock: o.clock,
  } as BulkheadOptions);

  const clock = o.clock ?? systemClock;
  const holdMs = o.abandonedHoldMs ?? MIDDLEWARE_DEFAULTS.loadShedding.abandonedHoldMs;

  return function shedding(res, next, context) {
    // A request reached twice by this middleware (mounted on the app and on a router) holds one
    // slot: a second would count it twice, and shed it on its own slot at maxConcurrent 1.
    if (!claimResponse(res, shedding)) {
      const handled = next();
      return handled instanceof Promise ? handled : undefined;
    }
    // What became of the request: not yet run, run with a promise of its handler's, or held.
    let ran = false as false | 'handled' | 'held';
    let chain = undefined as Promise<unknown> | undefined;
    // Set while the request waits in the queue: told what to follow once it runs.
    let admitted = undefined as ((handled: unknown) => void) | undefined;
    const run = () => {
      ran = 'handled';
      const handled = next();
      admitted?.(handled);
      if (!(handled instanceof Promise)) {
        ran = 'held';
        return heldUntilEnd(res, clock, holdMs);
      }
      chain = handled;
      // The slot follows the handler, the caller the chain: they part only for a request the
      // toolkit answered for (a timeout after this middleware settles the chain at its deadline).
      return handled.then(
        () => {
          const late = lateHold(res, clock, holdMs);
          if (late !== undefined || !streamed?.(context) || res.closed) return late;
          const sent = heldWhileSent(res);
          void slot.catch(ignore); // a client that left mid-body: the caller follows the chain
          return sent;
        },
        (error: unknown) => {
          void slot.catch(ignore); // the caller hears of the error through the chain
          return lateHold(res, clock, holdMs)?.then(() => Promise.reject(error)) ?? Promise.reject(error);
        },
      );
    };
    // A queued request whose client left gives its place up; without a queue no signal is needed.
    const slot = queue > 0 ? shed.execute(run, requestSignal(res)) : shed.execute(run);
    if (chain !== undefined) return chain;
    if (ran === 'held') {
      void slot.catch(ignore); // a hold that outlived its client: the request has run
      return undefined;
    }
    return new Promise((resolve, reject) => {
      admitted = resolve;
      slot.then(undefined, (error: unknown) => {
        if (ran === false && isBulkheadRejectedError(error)) {
          emitHttpDecision({ decision: 'shed' });
          // Settles once the answer went (later while the body is on its way: see `bodyArrived`);
          // a refusal that throws goes to the caller, never unhandled.
          try {
            resolve(refuse(context, errorAnswer(res, error)));
          } catch (failure) {
            reject(failure);
          }
        } else if (ran !== 'held' && chain === undefined) reject(error);
      });
    });
  };
}
