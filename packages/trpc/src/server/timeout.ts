import { type Clock, isTimeoutError, RequestTimeoutError, timeout } from '@resilience/core';
import { emitHttpDecision, followAbort, OptionsValidator, unfollowAbort } from '@resilience/core/internal';
import { TRPCError } from '@trpc/server';
import { type Observable, observable } from '@trpc/server/observable';
import { built } from '../built.js';
import type { ResilienceMiddleware } from './rate-limit.js';

export interface TimeoutMiddlewareOptions {
  /** The time a procedure has, in ms. */
  ms: number;
  clock?: Clock;
}

const OPTION_NAMES = { ms: true, clock: true } as const;

/**
 * Gives each call `ms`: then it is answered `TIMEOUT` (cause `RequestTimeoutError`; 503 through
 * `responseMeta()`, as the HTTP adapters answer) whether or not the procedure stops, and
 * `ctx.signal` aborts (as it does when the request's own signal does).
 *
 * @example
 * const bounded = t.procedure.use(timeoutMiddleware({ ms: 5_000 }));
 * bounded.query(({ ctx }) => db.query(sql, { signal: ctx.signal }));
 */
export function timeoutMiddleware<TContext = object>(
  options: TimeoutMiddlewareOptions,
): ResilienceMiddleware<TContext, { signal: AbortSignal }> {
  const v = new OptionsValidator('timeoutMiddleware');
  const o = v.known(options, OPTION_NAMES);
  v.required('ms', o.ms).number('ms', o.ms, { gt: 0 });
  // `clock` as given, a falsy one too: timeout() names what is bad.
  const { ms, ...rest } = o as TimeoutMiddlewareOptions;
  const policy = built(v, undefined, ['ms'], () =>
    timeout(ms, { ...rest, strategy: 'aggressive', name: 'trpc-request' }),
  );
  return async function timeLimit(opts) {
    // Not the policy's signal, which stops following the request once next() returns: a
    // subscription or a stream the procedure returned must still stop when its client leaves.
    const request = opts.signal;
    const stop = new AbortController();
    const follower = { handleEvent: () => stop.abort(request!.reason) };
    if (request && !request.aborted) followAbort(request, follower);
    // Let go once the call is done (a stream: once it ends), or a signal calls share keeps them all.
    const release = () => request && unfollowAbort(request, follower);
    let result: Awaited<ReturnType<typeof opts.next>>;
    try {
      result = await policy.execute(() => opts.next({ ctx: { signal: stop.signal } }), request);
    } catch (error) {
      release();
      if (!isTimeoutError(error)) throw error;
      stop.abort(error);
      emitHttpDecision({ decision: 'timed_out' });
      throw new TRPCError({
        code: 'TIMEOUT',
        message: `The procedure did not finish within ${ms} ms`,
        cause: new RequestTimeoutError(ms),
      });
    }
    const data = result.ok ? (result.data as Partial<Stream> | null | undefined) : undefined;
    if (typeof data?.[Symbol.asyncIterator] === 'function')
      return { ...result, data: releasing(data as Stream, release) };
    if (typeof data?.subscribe === 'function')
      return { ...result, data: releasingObservable(data as Stream, release, stop) };
    release();
    return result;
  };
}

type Stream = AsyncIterable<unknown> & Observable<unknown, unknown>;

/** `data`'s items and its return value, then `release()` once it ends (done, failed or returned). */
async function* releasing(data: AsyncIterable<unknown>, release: () => void) {
  try {
    return yield* data;
  } finally {
    release();
  }
}

/**
 * A legacy Observable subscription's values, then `release()` once it completes, fails or is
 * unsubscribed; unsubscribed before its end, its client left: `stop` aborts, as when the request does.
 */
function releasingObservable(source: Observable<unknown, unknown>, release: () => void, stop: AbortController) {
  return observable((observer) => {
    let done = false;
    const subscription = source.subscribe({
      next: (value) => observer.next(value),
      error: (error) => {
        done = true;
        observer.error(error);
      },
      complete: () => {
        done = true;
        observer.complete();
      },
    });
    return () => {
      release();
      if (!done) stop.abort();
      subscription.unsubscribe();
    };
  });
}
