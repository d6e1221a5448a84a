import {
  type Clock,
  type EventLogger,
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
import { refusedBy } from './errors.js';

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
  /** Where a `key` that returns no key, and two limiters of one name, are told (once). @default console */
  logger?: EventLogger;
}

/** The logger used when none is given: `console`, message first (as text: a `%` in it is no format). */
const consoleLogger: Pick<EventLogger, 'error'> = { error: (fields, message) => console.error('%s', message, fields) };

const OPTION_NAMES = { limiter: true, key: true, cost: true, headers: true, clock: true, logger: true } as const;

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
  v.logger('logger', o.logger);
  const { limiter, key, cost = 1, headers, clock = systemClock } = o as RateLimitMiddlewareOptions<TContext>;
  const logger = o.logger ?? consoleLogger;
  const respond = built(v, undefined, ['limiter', 'headers'], () =>
    rateLimitResponder([limiter], headers === undefined ? {} : { headers }),
  );
  const said = new Set<string>();
  /** Tells `logger` once of a mistake (`what`): each call it concerns fails, or its clients cannot tell two limits apart. */
  const once = (what: string, message: string, fields?: object) => {
    if (said.has(what)) return;
    said.add(what);
    logger.error({ policy: limiter.name, ...fields }, `rateLimitMiddleware "${limiter.name}": ${message}`);
  };
  const shared = () => once('name', 'another limiter of this name refused a call of the batch: give each its own name');
  return async function rateLimit(opts) {
    let decision: RateLimitDecision;
    try {
      const k = key(opts as unknown as RateLimitKeyInput<TContext>);
      const given: unknown = typeof k === 'string' ? k : await k; // no await for a key given at once
      // No key is no one's quota: '' or a fallback for all would let one caller spend everyone's (the HTTP
      // adapters count '' under the client address, which tRPC does not have). A bug: a 500 that names it.
      if (typeof given !== 'string' || given === '') {
        const message = `key returned ${given === '' ? "''" : given === null ? 'null' : typeof given} for ${opts.path}, not a non-empty string`;
        once('key', message, { path: opts.path });
        throw new TypeError(`rateLimitMiddleware: ${message}`);
      }
      decision = await limiter.consume(given, cost);
    } catch (error) {
      // The store is down and the limiter fails closed: errorFormatter answers 503; the span hears why.
      if (isStoreUnavailableError(error)) emitHttpDecision({ decision: 'store_unavailable', policy: limiter.name });
      throw error;
    }
    if (decision.allowed) return opts.next();
    emitHttpDecision({ decision: 'rate_limited', policy: limiter.name });
    const { 'content-type': _, ...fields } = respond([decision], clock.now()).headers;
    const cause = Object.assign(new RateLimitExceededError(decision.retryAfterMs), { headers: fields });
    refusedBy.set(cause, { limiter, shared });
    throw new TRPCError({
      code: 'TOO_MANY_REQUESTS',
      message: `Rate limit exceeded; retry in ${Math.ceil(decision.retryAfterMs / 1_000)} s`,
      cause,
    });
  };
}
