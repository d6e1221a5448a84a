import type { RateLimiter } from '@resilience/core';
import { OptionsValidator, refuseSignal } from '@resilience/core/internal';
import type { Operation, TRPCLink } from '@trpc/client';
import type { AnyRouter } from '@trpc/server';
import { observable } from '@trpc/server/observable';
import { asClientError, SIGNAL_HINT, stopper, unsubscribed } from './operation.js';

export interface RateLimitLinkOptions {
  /** The limiter every operation waits for (FIFO, up to its `maxWaitMs`): `rateLimiter({ algorithm })`. */
  limiter: RateLimiter;
  /** The limiter key of an operation. @default 'trpc': one quota for the server */
  key?: (op: Operation) => string;
  /** The longest an operation waits before failing with `RateLimitExceededError`. @default the limiter's */
  maxWaitMs?: number;
  /** Subscriptions wait for the quota before they start too. @default false */
  subscriptions?: boolean;
}

const OPTION_NAMES = { limiter: true, key: true, maxWaitMs: true, subscriptions: true } as const;

/** Defaults of `rateLimitLink`. */
export const RATE_LIMIT_LINK_DEFAULTS = { key: 'trpc', subscriptions: false } as const;

/**
 * Keeps a client within a quota: each query and mutation waits for `limiter` (FIFO), and
 * fails with a `RateLimitExceededError` cause past `maxWaitMs`. Its signal, or unsubscribing,
 * ends the wait. Subscriptions pass through unless `subscriptions: true`.
 *
 * @example
 * const quota = rateLimiter({ algorithm: tokenBucket({ capacity: 60, refillPerSecond: 1 }) });
 * links: [rateLimitLink({ limiter: quota }), httpBatchLink({ url })]
 */
export function rateLimitLink<TRouter extends AnyRouter = AnyRouter>(options: RateLimitLinkOptions): TRPCLink<TRouter> {
  const v = new OptionsValidator('rateLimitLink');
  refuseSignal(v, options, SIGNAL_HINT);
  const o = v.known(options, OPTION_NAMES);
  v.check(typeof o.limiter?.wait === 'function', 'limiter', o.limiter, 'a RateLimiter');
  v.predicate('key', o.key); // an async one answers a promise: no key
  v.number('maxWaitMs', o.maxWaitMs, { min: 0 });
  v.boolean('subscriptions', o.subscriptions);
  v.done();
  const { limiter, maxWaitMs } = options;
  const keyOf = options.key ?? (() => RATE_LIMIT_LINK_DEFAULTS.key);
  const subscriptions = options.subscriptions ?? RATE_LIMIT_LINK_DEFAULTS.subscriptions;
  return () =>
    ({ op, next }) => {
      if (op.type === 'subscription' && !subscriptions) return next(op);
      return observable((observer) => {
        let unsubscribe: (() => void) | undefined;
        let stopped = false;
        // Unsubscribing ends the wait, as the operation's signal does: a closed subscription or a
        // dropped call must not keep its place in the queue and spend a unit nobody uses.
        const waiting = stopper(op);
        // A key that throws fails the call, as the limiter's refusal does, and the signal is let go.
        new Promise((resolve) =>
          resolve(limiter.wait(keyOf(op), { signal: waiting.signal, ...(maxWaitMs !== undefined && { maxWaitMs }) })),
        )
          .finally(waiting.release)
          .then(
            () => {
              // Admitted, then its own signal aborted (in the same tick): sent on, the links below
              // answer the abort as they do. Skipped, the caller would never hear back.
              if (!stopped) unsubscribe = next(op).subscribe(observer).unsubscribe;
            },
            (error: unknown) => {
              if (op.signal?.aborted || !waiting.signal.aborted) observer.error(asClientError(error));
            },
          );
        return () => {
          stopped = true;
          if (unsubscribe === undefined) waiting.abort(unsubscribed());
          unsubscribe?.();
        };
      });
    };
}
