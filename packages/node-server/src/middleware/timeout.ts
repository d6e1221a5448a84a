import type { ServerResponse } from 'node:http';
import { type Clock, type OptionNames, RequestTimeoutError, systemClock } from '@resilience/core';
import { emitHttpDecision, OptionsValidator } from '@resilience/core/internal';
import { abortRequest, whenResponseCloses } from '../request-state.js';
import { respondOnce } from '../respond-once.js';
import { errorAnswer } from './answer.js';

/** Options of the adapters' `timeout` middleware. */
export interface TimeoutOptions {
  /** How long a request may take before it is answered 503 and its signal aborts. Required. */
  ms: number;
  /** @default systemClock */
  clock?: Clock;
}

const OPTION_NAMES = { ms: true, clock: true } as const satisfies OptionNames<TimeoutOptions>;

/**
 * Arms one request's timeout and calls `next`; returns what `next` returned, or, when that is
 * a promise (Koa), a promise that settles with it or when the request times out, whichever
 * comes first (a late rejection is then dropped: the request was answered).
 */
export type TimeoutArm = <T>(res: ServerResponse, next: () => T) => T | Promise<void>;

/**
 * The request timeout shared by the Express and Koa adapters; see their `timeout`.
 * `expired` runs after a request has been answered 503 (Express records it there: its error
 * handler never sees the request).
 */
export function timeoutArm(options: TimeoutOptions, expired?: (res: ServerResponse) => void): TimeoutArm {
  const v = new OptionsValidator('timeout');
  const o = v.known(options, OPTION_NAMES);
  v.required('ms', o.ms).number('ms', o.ms, { gt: 0 });
  v.clock('clock', o.clock);
  v.done();
  const ms = o.ms as number;
  const clock = o.clock ?? systemClock;

  const expire = (res: ServerResponse) => {
    if (res.writableEnded) return;
    // In the request's async context: a timer keeps the context it was set in.
    emitHttpDecision({ decision: 'timed_out' });
    const error = new RequestTimeoutError(ms);
    abortRequest(res, error);
    // Already streaming: only ending the connection stops it.
    if (!respondOnce(res, errorAnswer(res, error))) res.destroy(error);
    expired?.(res);
  };

  return function arm<T>(res: ServerResponse, next: () => T): T | Promise<void> {
    let fire: (() => void) | undefined;
    const timer = clock.setTimeout(() => {
      expire(res);
      fire?.();
    }, ms);
    whenResponseCloses(res, () => clock.clearTimeout(timer));
    const handled = next();
    if (!(handled instanceof Promise)) return handled;
    // One promise, not a race of two: whichever settles it first wins, and a rejection that
    // comes after the timeout is handled (dropped) all the same.
    return new Promise<void>((resolve, reject) => {
      fire = resolve;
      handled.then(() => resolve(), reject);
    });
  };
}
