import {
  backoff,
  isOwnRejection,
  isRetryableFailure,
  isRetryExhaustedError,
  type Random,
  type RetryBudget,
  type RetryBudgetOptions,
  type RetryOptions,
  resilienceDetails,
  retry,
  statusOf,
  systemClock,
  systemRandom,
} from '@resilience/core';
import { OptionsValidator, refuseSignal } from '@resilience/core/internal';
import type { Operation, TRPCLink } from '@trpc/client';
import type { AnyRouter } from '@trpc/server';
import { built, isPlainObject } from '../built.js';
import { promiseLink, SIGNAL_HINT } from './operation.js';

export interface RetryLinkOptions {
  /**
   * `retry()`'s options. `handle` defaults to `isRetryableFailure` (network errors, timeouts,
   * 408, 425, 429, 5xx) and `isIdempotencyKeyInUse`; `Retry-After` (or
   * `data.retryAfterMs`) is honoured up to `retryAfter.maxMs`. `budget: false` drops the budget.
   * @default 4 attempts, backoff 100 ms to 5 s with full jitter, Retry-After up to 60 s, a retry budget
   */
  retry?: Omit<RetryOptions, 'budget'> & { budget?: RetryBudget | RetryBudgetOptions | false };
  /**
   * Whether an operation may be sent again.
   * @default queries, and mutations whose context or input carries an `idempotencyKey`
   */
  idempotent?: (op: Operation) => boolean;
}

const OPTION_NAMES = { retry: true, idempotent: true } as const;

/** Whether an operation carries an idempotency key: `context.idempotencyKey` or `input.idempotencyKey`, a non-empty string. */
export function hasIdempotencyKey(op: Operation): boolean {
  const key =
    op.context.idempotencyKey ?? (op.input as { idempotencyKey?: unknown } | null | undefined)?.idempotencyKey;
  return typeof key === 'string' && key.length > 0;
}

/** A link of ours below refused the attempt before it went out (`circuitBreakerLink`, `rateLimitLink`). */
const refused = (error: unknown): boolean =>
  isOwnRejection(error) || isOwnRejection((error as { cause?: unknown } | null)?.cause);

/**
 * The caller sees the last attempt's `TRPCClientError`, as the server shaped it, not the
 * retry's wrapper, with the whole operation's `resilience` details (`resilienceDetails`): a
 * `circuitBreakerLink` below attached those of its last attempt only (`attempts: 1`). A retry
 * a link of ours refused is not the answer: the server's `answer` before it is.
 */
function lastError(error: unknown, answer: unknown, path: string, attempts: number, totalDelayMs: number): never {
  let last = isRetryExhaustedError(error) ? error.cause : error;
  if (answer !== undefined && refused(last)) last = answer;
  if (typeof last === 'object' && last !== null && Object.isExtensible(last)) {
    const below = resilienceDetails(last);
    const details = { ...below, host: below?.host ?? path, attempts, totalDelayMs };
    Object.defineProperty(last, 'resilience', { value: details, enumerable: true, configurable: true, writable: true });
  }
  throw last;
}

/** Whether a call's 409 says its idempotency key's first call still runs (`data.idempotencyKeyInUse`, or problem+json `code: 'in_flight'` not replayed). */
export function isIdempotencyKeyInUse(error: unknown): boolean {
  if (statusOf(error) !== 409) return false;
  const { data, meta } = error as {
    data?: { idempotencyKeyInUse?: unknown };
    meta?: { responseJSON?: { code?: unknown }; response?: { headers?: { get?(name: string): unknown } } };
  };
  // A handler's own in-flight 409 that an HTTP adapter recorded answers every retry: `Idempotent-Replayed`.
  return (
    data?.idempotencyKeyInUse === true ||
    (meta?.responseJSON?.code === 'in_flight' && meta.response?.headers?.get?.('idempotent-replayed') !== 'true')
  );
}

const safeByDefault = (op: Operation) => op.type === 'query' || hasIdempotencyKey(op);

/** `idempotent(op)`'s answer: anything but a boolean (a promise, `'yes'`) fails the call, rather than read as no. */
function said(answer: unknown): boolean {
  if (typeof answer === 'boolean') return answer;
  throw new TypeError(`retryLink: idempotent(op) must return a boolean, received ${typeof answer}`);
}

/**
 * `random`, drawn once per millisecond of `clock`: the calls of a batch that failed fail
 * together, so their retries wait alike and go out as one batch again, as tRPC's own
 * retryLink's do (its delay is the attempt's); each its own draw, they went out as up to one
 * request per call. Clients still draw apart from each other.
 */
function drawnPerMs(random: Random, clock: { now(): number }): Random {
  let at: number | undefined;
  let drawn = 0;
  return () => {
    const now = clock.now();
    if (now !== at) [at, drawn] = [now, random()];
    return drawn;
  };
}

/**
 * Retries the queries (and the mutations with an idempotency key) that failed in a way
 * another attempt may fix, waiting as the server's `Retry-After` asks. Place it before the
 * links it should repeat (breaker, timeout) and the terminating link. Subscriptions pass
 * through untouched.
 *
 * @example
 * createTRPCClient<AppRouter>({ links: [retryLink({ retry: { maxAttempts: 3 } }), httpLink({ url })] });
 */
export function retryLink<TRouter extends AnyRouter = AnyRouter>(options: RetryLinkOptions = {}): TRPCLink<TRouter> {
  const v = new OptionsValidator('retryLink');
  refuseSignal(v, options, SIGNAL_HINT, 'retry');
  const o = v.known(options, OPTION_NAMES);
  v.check(o.retry === undefined || isPlainObject(o.retry), 'retry', o.retry, 'retry() options');
  v.predicate('idempotent', o.idempotent);
  const { budget, ...rest } = o.retry ?? {};
  const clock = o.retry?.clock ?? systemClock;
  const { random = systemRandom } = rest;
  const policy = built(v, 'retry', ['retry'], () =>
    retry({
      handle: (e) => isRetryableFailure(e) || isIdempotencyKeyInUse(e),
      ...rest,
      // A random that is none is retry()'s to report.
      random: typeof random === 'function' ? drawnPerMs(random, clock) : random,
      // Full jitter: clients whose calls failed together do not retry together.
      backoff: rest.backoff ?? backoff.exponential({ jitter: 'full' }),
      ...(budget !== false && { budget: budget === undefined ? {} : budget }),
    }),
  );
  const idempotent = o.idempotent ?? safeByDefault;
  const link = promiseLink(
    (op) => said(idempotent(op)),
    (op, send, signal) => {
      let attempts = 0;
      let waitedMs = 0;
      let failedAt: number | undefined;
      let answer: unknown; // the last failure that went out
      const attempt = () => {
        attempts++;
        if (failedAt !== undefined) waitedMs += clock.now() - failedAt;
        return send(op).catch((error: unknown) => {
          failedAt = clock.now();
          if (!refused(error)) answer = error;
          throw error;
        });
      };
      return policy.execute(attempt, signal).catch((error) => lastError(error, answer, op.path, attempts, waitedMs));
    },
  );
  return () => link;
}
