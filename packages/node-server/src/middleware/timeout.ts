import { AsyncResource } from 'node:async_hooks';
import type { ServerResponse } from 'node:http';
import { type Clock, type OptionNames, RequestTimeoutError, systemClock } from '@resilience/core';
import { type DeadlineEntry, DeadlineQueue, emitHttpDecision, OptionsValidator } from '@resilience/core/internal';
import { abortRequest, lateResponse, whenResponseCloses } from '../request-state.js';
import { respondOnce } from '../respond-once.js';
import { errorAnswer } from './answer.js';
import { refuseUncalled } from './uncalled.js';

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
 * comes first (a late rejection is then dropped: the request was answered). `context` (Koa's
 * `ctx`) is handed to `expired`.
 */
export type TimeoutArm = <T>(res: ServerResponse, next: () => T, context?: unknown) => T | Promise<void>;

/**
 * One request's deadline: in the middleware's queue, and in the request's async context.
 * `fire` settles a Koa request's promise at the deadline; `handled` is a Koa request's
 * handler: once the request is answered for it, its end is the end of its late answer.
 */
class RequestDeadline extends AsyncResource implements DeadlineEntry {
  deadline = 0;
  prev: DeadlineEntry | undefined = undefined;
  next: DeadlineEntry | undefined = undefined;
  queue: DeadlineQueue | undefined = undefined;
  fire: (() => void) | undefined = undefined;
  handled: Promise<unknown> | undefined = undefined;
  readonly res: ServerResponse;
  readonly context: unknown;
  readonly #expire: (deadline: RequestDeadline) => void;

  constructor(res: ServerResponse, context: unknown, expire: (deadline: RequestDeadline) => void) {
    super('resilience.timeout');
    this.res = res;
    this.context = context;
    this.#expire = expire;
  }

  expire(): void {
    // In the request's async context (the queue's timer keeps the context of whoever armed
    // it): onHttpDecision listeners annotate this request's span, abort listeners log for it.
    this.runInAsyncScope(this.#expire, null, this);
  }
}

/**
 * The request timeout shared by the Express and Koa adapters; see their `timeout`.
 * `expired` runs after a request has been answered 503, with the `context` given to `arm`
 * (Express records it there: its error handler never sees the request; Koa turns its own
 * respond off for it). A request answered so keeps its handler's late answer (see
 * `respondOnce`); on Koa the handler's promise says when that answer is complete. All the middleware's deadlines share ONE timer (the same
 * `ms` for all, so they expire in order): a request costs a queue entry and a `close`
 * listener (shared with the request signal), not a timer.
 */
export function timeoutArm(
  options: TimeoutOptions,
  expired?: (res: ServerResponse, context: unknown) => void,
): TimeoutArm {
  refuseUncalled('timeout', options);
  const v = new OptionsValidator('timeout');
  const o = v.known(options, OPTION_NAMES);
  v.required('ms', o.ms).number('ms', o.ms, { gt: 0 });
  v.clock('clock', o.clock);
  v.done();
  const ms = o.ms as number;
  const clock = o.clock ?? systemClock;
  const deadlines = new DeadlineQueue(clock);

  const expire = ({ res, context, fire, handled }: RequestDeadline) => {
    if (!res.writableEnded) {
      emitHttpDecision({ decision: 'timed_out' });
      const error = new RequestTimeoutError(ms);
      // The 503 is sealed before the signal aborts: an answer its listeners give at once is the
      // handler's late answer, never the client's. Already streaming: only ending the connection stops it.
      const answered = respondOnce(res, errorAnswer(res, error));
      abortRequest(res, error);
      if (!answered) res.destroy(error);
      else if (handled !== undefined) {
        // The handler still runs: whoever waits for its answer (an idempotency record) learns when it ends.
        handled.then(
          () => lateResponse(res)?.settled(),
          () => lateResponse(res)?.failed(),
        );
      }
      expired?.(res, context);
    }
    fire?.();
  };

  return function arm<T>(res: ServerResponse, next: () => T, context?: unknown): T | Promise<void> {
    const deadline = new RequestDeadline(res, context, expire);
    const now = clock.now();
    deadlines.add(deadline, now + ms, now);
    // A finished request's deadline leaves the queue (and lets go of the response) at once.
    whenResponseCloses(res, () => deadlines.remove(deadline));
    const handled = next();
    if (!(handled instanceof Promise)) return handled;
    // One promise, not a race of two: whichever settles it first wins, and a rejection that
    // comes after the timeout is handled (dropped) all the same.
    deadline.handled = handled;
    return new Promise<void>((resolve, reject) => {
      deadline.fire = resolve;
      handled.then(() => resolve(), reject);
    });
  };
}
