import {
  backoff,
  type Clock,
  isOwnRejection,
  isRetryableFailure,
  isRetryExhaustedError,
  type Random,
  RetryBudget,
  type RetryBudgetOptions,
  type RetryOptions,
  resilienceDetails,
  retry,
  statusOf,
  systemClock,
  systemRandom,
} from '@resilience/core';
import { checkNested, OptionsValidator, refuseSignal } from '@resilience/core/internal';
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

const retryable = (e: unknown) => isRetryableFailure(e) || isIdempotencyKeyInUse(e);

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

/** What the calls one request failed share: its answer (a batch's `meta.response`), or the error that ended it (a dropped connection). */
function requestOf(error: unknown): object | undefined {
  const e = error as { meta?: { response?: unknown }; cause?: unknown } | null | undefined;
  const request = e?.meta?.response ?? e?.cause;
  return typeof request === 'object' && request !== null ? request : undefined;
}

/** The calls one request failed, in one millisecond: whether the budget granted its first call's retry. */
type Failed = { request: object | undefined; at: number; granted: boolean };
/** An operation: the request its last failure came from, and when it took a retry from the budget. */
type Call = { request?: object | undefined; took?: number | undefined };

/**
 * The link's retry budget, granting or refusing the calls one request failed together (a batch's:
 * one answer, or one dropped connection, in one millisecond) as one: their retries wait alike
 * and go out as one request again. Each call still takes a retry from it, as each is the
 * server's work again: once it is spent, the first call of a batch is refused and so is the
 * rest, while a batch whose first call was granted goes out whole. Before, each call was
 * granted alone: a batch of 20 that failed once had 8 calls refused, as separate requests.
 * `heard(error)`, from `handle`, which retry() calls in the same turn just before `tryRetry()`,
 * says whose failure it is (`failed` mapped it). A call that leaves during its wait gives back
 * only the retry it took (`done`; retry()'s own `release` cannot tell a call that took none).
 */
function perRequest(budget: RetryBudget, clock: { now(): number }) {
  const calls = new WeakMap<object, Call>();
  let current: Call | undefined;
  let last: Failed | undefined;
  const shared = {
    recordCall: () => budget.recordCall(),
    tryRetry() {
      const call = current;
      const at = clock.now();
      const request = call?.request;
      current = undefined;
      const same = request !== undefined && last?.request === request && last.at === at;
      if (same && !last!.granted) return false;
      const took = budget.tryRetry();
      if (!same) last = { request, at, granted: took };
      if (call && took) call.took = at;
      return same || took;
    },
    release() {},
  } as unknown as RetryBudget;
  return {
    budget: shared,
    failed(call: Call, error: unknown) {
      call.request = requestOf(error);
      if (typeof error === 'object' && error !== null) calls.set(error, call);
    },
    heard(error: unknown) {
      current = typeof error === 'object' && error !== null ? calls.get(error) : undefined;
    },
    done(call: Call, left: boolean) {
      if (left && call.took !== undefined) budget.release?.(clock.now() - call.took);
      call.took = undefined;
    },
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
  const { budget: given, handle = retryable, ...rest } = o.retry ?? {};
  v.predicate('retry.handle', handle);
  const clock: Clock = o.retry?.clock ?? systemClock;
  const { random = systemRandom } = rest;
  // The budget is made here, to be spent per request (perRequest); its options named as retry.budget's.
  const budgetOptions = given as RetryBudgetOptions | undefined; // checked by RetryBudget
  const budget =
    given === false
      ? undefined
      : typeof (given as Partial<RetryBudget> | null | undefined)?.tryRetry === 'function'
        ? (given as RetryBudget)
        : checkNested(
            v,
            'retry.budget',
            () =>
              new RetryBudget(
                given === undefined || isPlainObject(given)
                  ? { ...budgetOptions, clock: budgetOptions?.clock ?? clock }
                  : budgetOptions,
              ),
            ['retry'],
          );
  const spending = budget && perRequest(budget, clock);
  const policy = built(v, 'retry', ['retry'], () =>
    retry({
      ...rest,
      handle:
        typeof handle === 'function'
          ? (e) => {
              spending?.heard(e);
              return handle(e);
            }
          : handle,
      // A random that is none is retry()'s to report.
      random: typeof random === 'function' ? drawnPerMs(random, clock) : random,
      // Full jitter: clients whose calls failed together do not retry together.
      backoff: rest.backoff ?? backoff.exponential({ jitter: 'full' }),
      ...(spending && { budget: spending.budget }),
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
      const call = {};
      const attempt = () => {
        attempts++;
        spending?.done(call, false);
        if (failedAt !== undefined) waitedMs += clock.now() - failedAt;
        return send(op).catch((error: unknown) => {
          failedAt = clock.now();
          spending?.failed(call, error);
          if (!refused(error)) answer = error;
          throw error;
        });
      };
      return policy.execute(attempt, signal).catch((error) => {
        spending?.done(call, true);
        return lastError(error, answer, op.path, attempts, waitedMs);
      });
    },
  );
  return () => link;
}
