import { type Clock, isTimeoutError, RequestTimeoutError, timeout } from '@resilience/core';
import { emitHttpDecision, OptionsValidator } from '@resilience/core/internal';
import { TRPCError } from '@trpc/server';
import { built } from '../built.js';
import type { ResilienceMiddleware } from './rate-limit.js';

export interface TimeoutMiddlewareOptions {
  /** The time a procedure has, in ms. */
  ms: number;
  clock?: Clock;
}

const OPTION_NAMES = { ms: true, clock: true } as const;

/**
 * Gives each call `ms`: the procedure receives `ctx.signal`, which aborts at the limit (and
 * when the request's own signal does — tRPC lets no middleware replace `opts.signal`), and
 * the call is answered at the limit with `TRPCError` `TIMEOUT` (cause
 * `RequestTimeoutError`), whether or not the procedure stops.
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
  const { ms, clock } = o as TimeoutMiddlewareOptions;
  const policy = built(v, undefined, ['ms'], () =>
    timeout(ms, {
      strategy: 'aggressive',
      name: 'trpc-request',
      ...(clock && { clock }),
    }),
  );
  return async function timeLimit(opts) {
    try {
      return await policy.execute(({ signal }) => opts.next({ ctx: { signal } }), opts.signal);
    } catch (error) {
      if (!isTimeoutError(error)) throw error;
      emitHttpDecision({ decision: 'timed_out' });
      throw new TRPCError({
        code: 'TIMEOUT',
        message: `The procedure did not finish within ${ms} ms`,
        cause: new RequestTimeoutError(ms),
      });
    }
  };
}
