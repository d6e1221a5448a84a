import {
  type Clock,
  isStoreUnavailableError,
  type RateLimitDecision,
  RateLimitExceededError,
  type RateLimiter,
  type RateLimitHeadersMode,
  rateLimitResponder,
  systemClock,
} from '@resilience/core';
import { emitHttpDecision, OptionsValidator } from '@resilience/core/internal';
import { TRPCError, type TRPCMiddlewareFunction, type TRPCProcedureType } from '@trpc/server';
import { built } from '../built.js';

/** What `key` reads of a call. */
export interface RateLimitKeyInput<TContext> {
  readonly ctx: TContext;
  readonly path: string;
  readonly type: TRPCProcedureType;
}

export interface RateLimitMiddlewareOptions<TContext> {
  /** The limiter (`rateLimiter({ name, algorithm, store })`); its name is the policy's in the RateLimit fields. */
  limiter: RateLimiter;
  /** Whose quota a call spends (a user, an API key from `ctx`; with `path`, per procedure), or a promise of it. */
  key: (input: RateLimitKeyInput<TContext>) => string | Promise<string>;
  /** Units a call spends: at most what the limiter can ever admit (a token bucket's capacity). @default 1 */
  cost?: number;
  /** Which rate-limit fields a refusal carries (see core's `rateLimitResponder`). @default 'draft' */
  headers?: RateLimitHeadersMode;
  /** Reads the time for the legacy fields' epoch reset. @default systemClock */
  clock?: Clock;
}

const OPTION_NAMES = { limiter: true, key: true, cost: true, headers: true, clock: true } as const;

/** A middleware for any procedure of a router whose context is `TContext`, adding `TOverrides` to it. */
export type ResilienceMiddleware<TContext, TOverrides = object> = TRPCMiddlewareFunction<
  TContext,
  unknown,
  object,
  TOverrides,
  unknown
>;

/**
 * Spends one unit of `limiter`'s quota for `key(call)` per call, and refuses a call over the
 * quota with `TRPCError` `TOO_MANY_REQUESTS` whose cause is a `RateLimitExceededError`
 * carrying `retryAfterMs` and the refusal's draft-10 `RateLimit` fields, which
 * `responseMeta()` puts on the HTTP response with `Retry-After`.
 *
 * @example
 * // tRPC infers no context type for a middleware: name yours.
 * const limited = t.procedure.use(rateLimitMiddleware<Context>({ limiter, key: ({ ctx }) => ctx.userId }));
 */
export function rateLimitMiddleware<TContext = object>(
  options: RateLimitMiddlewareOptions<TContext>,
): ResilienceMiddleware<TContext> {
  const v = new OptionsValidator('rateLimitMiddleware');
  const o = v.known(options, OPTION_NAMES);
  const algorithms = o.limiter?.algorithms;
  v.check(typeof o.limiter?.consume === 'function' && Array.isArray(algorithms), 'limiter', o.limiter, 'a RateLimiter');
  v.function('key', o.key).required('key', o.key);
  // A cost no limit can ever admit would fail every call (a 500), not refuse it: said here instead.
  v.number('cost', o.cost, {
    gt: 0,
    max: Array.isArray(algorithms) ? Math.min(...algorithms.map((a) => a.maxCost)) : Infinity,
  });
  v.clock('clock', o.clock);
  const { limiter, key, cost = 1, headers, clock = systemClock } = o as RateLimitMiddlewareOptions<TContext>;
  const respond = built(v, undefined, ['limiter', 'headers'], () =>
    rateLimitResponder([limiter], headers === undefined ? {} : { headers }),
  );
  return async function rateLimit(opts) {
    let decision: RateLimitDecision;
    try {
      const k = key(opts as unknown as RateLimitKeyInput<TContext>);
      decision = await limiter.consume(typeof k === 'string' ? k : await k, cost); // no await for a key given at once
    } catch (error) {
      // The store is down and the limiter fails closed: errorFormatter answers 503; the span hears why.
      if (isStoreUnavailableError(error)) emitHttpDecision({ decision: 'store_unavailable', policy: limiter.name });
      throw error;
    }
    if (decision.allowed) return opts.next();
    emitHttpDecision({ decision: 'rate_limited', policy: limiter.name });
    const { 'content-type': _, ...fields } = respond([decision], clock.now()).headers;
    throw new TRPCError({
      code: 'TOO_MANY_REQUESTS',
      message: `Rate limit exceeded; retry in ${Math.ceil(decision.retryAfterMs / 1_000)} s`,
      cause: Object.assign(new RateLimitExceededError(decision.retryAfterMs), { headers: fields }),
    });
  };
}
