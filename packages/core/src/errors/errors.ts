import { cutText } from '../metrics/names.js';
import type { TransactionError } from '../transaction/transaction.js';

const BRAND = Symbol.for('@resilience/core:error');

/** Stable codes of the toolkit's own errors. Guards compare codes, not classes. */
export type ResilienceErrorCode =
  | 'invalid_options'
  | 'circuit_open'
  | 'circuit_isolated'
  | 'timeout'
  | 'request_timeout'
  | 'bulkhead_full'
  | 'rate_limited'
  | 'retry_exhausted'
  | 'in_flight'
  | 'fingerprint_mismatch'
  | 'record_failed'
  | 'saga_misuse'
  | 'transaction_failed'
  | 'store_full'
  | 'throttled'
  | 'store_unavailable';

/**
 * Base of every error the toolkit throws. `code` is stable across versions; use the
 * `is…` guards, which check the code and so work across duplicate package copies.
 */
export class ResilienceError extends Error {
  readonly code: ResilienceErrorCode;
  declare readonly [BRAND]: true;

  constructor(code: ResilienceErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }

  override get name(): string {
    return this.constructor.name;
  }

  // The brand lives on the prototype, not on each error: a property defined per
  // construction costs a runtime call, and `in` finds it either way (across copies too).
  static {
    Object.defineProperty(ResilienceError.prototype, BRAND, { value: true });
  }
}

/** One bad option: its name, what was received and what is allowed. */
export interface OptionIssue {
  readonly option: string;
  readonly received: unknown;
  readonly allowed: string;
}

/** `name` after the article it takes: `an Error`, `a Map`, `a URL`, `a Uint8Array`, `an Undici…`. */
export const withArticle = (name: string): string => `${/^(?:[aeio]|un(?!i))/i.test(name) ? 'an' : 'a'} ${name}`;

/** Option names whose values an error message never shows (a client's `options.password`). */
const SECRET = /pass|secret|token|auth|cred/i;

/**
 * What an issue shows of a received value: never the insides of a class instance (a Redis
 * client given as a store carries its password), never a secret-looking field, at most 200
 * characters (messages go to logs).
 */
export const show = (value: unknown): string => {
  let text: string;
  try {
    const proto = typeof value === 'object' && value !== null ? Object.getPrototypeOf(value) : null;
    text =
      typeof value === 'function'
        ? 'a function'
        : typeof value === 'bigint'
          ? `${value}n`
          : typeof value === 'number'
            ? String(value) // JSON writes NaN and Infinity as null
            : // a plain object or an array, of this realm or another, shows as JSON
              proto !== null && Object.getPrototypeOf(proto) !== null && !Array.isArray(value)
              ? withArticle(proto.constructor?.name || 'object')
              : (JSON.stringify(value, (key, v) => (SECRET.test(key) ? '…' : v)) ?? String(value));
  } catch {
    // A cycle, a BigInt inside, a revoked Proxy (which throws on every read).
    text = typeof value === 'object' ? 'an object that cannot be shown' : String(value);
  }
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
};

/** Invalid options, thrown at construction. Lists every bad option at once. */
export class ConfigurationError extends ResilienceError {
  declare readonly code: 'invalid_options';
  readonly issues: readonly OptionIssue[];
  constructor(subject: string, issues: readonly OptionIssue[]) {
    const list = issues.map((i) => `${i.option}: received ${show(i.received)}, expected ${i.allowed}`);
    super('invalid_options', `Invalid ${subject} options: ${list.join('; ')}`);
    this.issues = issues;
  }
}

/**
 * A call rejected because a circuit breaker is open. A breaker sets `cause` to the failure
 * that opened it (the last one it recorded), so logs keep the 503 or the reset behind it.
 * The rejections of one opening share the stack frames (at most 10) of its first.
 */
export class BrokenCircuitError extends ResilienceError {
  declare readonly code: 'circuit_open' | 'circuit_isolated';
  /** Milliseconds until the breaker admits its next probe. */
  readonly retryAfterMs: number;
  constructor(
    message = 'Circuit is open',
    retryAfterMs = 0,
    code: 'circuit_open' | 'circuit_isolated' = 'circuit_open',
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
    this.retryAfterMs = retryAfterMs;
  }
}

/** A call rejected because a breaker was isolated by hand. */
export class IsolatedCircuitError extends BrokenCircuitError {
  constructor(message = 'Circuit is isolated') {
    super(message, Number.POSITIVE_INFINITY, 'circuit_isolated');
  }
}

/** A call that did not finish within its time limit. */
export class TimeoutError extends ResilienceError {
  declare readonly code: 'timeout';
  readonly timeoutMs: number;
  constructor(timeoutMs: number, message = `Operation timed out after ${timeoutMs} ms`) {
    super('timeout', message);
    this.timeoutMs = timeoutMs;
  }
}

/**
 * A request a server gave up on: the request-level deadline of an HTTP server (the adapters'
 * `timeout({ ms })` middleware), answered 503. Distinct from {@link TimeoutError}, an
 * upstream call that overran, which an error handler answers 504.
 */
export class RequestTimeoutError extends ResilienceError {
  declare readonly code: 'request_timeout';
  readonly timeoutMs: number;
  constructor(timeoutMs: number, message = `Request timed out after ${timeoutMs} ms`) {
    super('request_timeout', message);
    this.timeoutMs = timeoutMs;
  }
}

/**
 * A call rejected because a bulkhead's slots and queue are full, or because it waited in
 * the queue longer than `maxQueueMs`.
 */
export class BulkheadRejectedError extends ResilienceError {
  declare readonly code: 'bulkhead_full';
  /** The bulkhead's execution limit when it rejected (an adaptive limit moves). */
  readonly executionSlots: number;
  readonly queueSlots: number;
  /** When a retry may find a slot, in ms: the bulkhead's `retryAfterMs` (a Retry-After for a 503). */
  readonly retryAfterMs: number;
  constructor(
    executionSlots: number,
    queueSlots: number,
    retryAfterMs = 0,
    message = `Bulkhead is full (limit ${executionSlots}, queue ${queueSlots})`,
  ) {
    super('bulkhead_full', message);
    this.executionSlots = executionSlots;
    this.queueSlots = queueSlots;
    this.retryAfterMs = retryAfterMs;
  }
}

/**
 * A request refused by a rate limiter: `limiter.wait()`, `limiter.execute()` and
 * `limiter.policy()` reject with it (`maxWaitMs: 0` rejects at once; `consume()` returns a
 * decision instead). One of the toolkit's own rejections: not transient, and not retried
 * unless asked.
 */
export class RateLimitExceededError extends ResilienceError {
  declare readonly code: 'rate_limited';
  readonly retryAfterMs: number;
  constructor(retryAfterMs: number, message = `Rate limit exceeded; retry in ${Math.ceil(retryAfterMs)} ms`) {
    super('rate_limited', message);
    this.retryAfterMs = retryAfterMs;
  }
}

// The message of anything thrown: an error's `message`, a string, or what `String()` gives.
export function messageOf(error: unknown): string {
  try {
    const message = (error as { message?: unknown } | null | undefined)?.message;
    return typeof message === 'string' ? message : String(error);
  } catch {
    return '[object without a message]'; // no toString (Object.create(null)), or a getter that throws
  }
}

// `text` with each quoted URL's credentials, query and fragment shown as `…` (fetch quotes a URL
// it refuses whole: `user:pass@`, `?token=`, an OAuth implicit flow's `#access_token=`), cut to
// `max` characters (`…` after) when given: as a log line or an admin view shows an error's
// message. Only the first `max + 1 000` are read, whatever its size: room for what hiding takes
// out, and a secret is hidden before the cut, never shown in part.
export const hideUrlSecrets = (text: string, max = Infinity): string => {
  const shown = cutText(text, 1_000 + max).replace(
    /(\w:\/\/)([^\s/?#]*@)?([^\s?#]*)(\?[^\s#]*)?(#\S*)?/g,
    (_, scheme, user, rest, query, hash) => [scheme, user && '…@', rest, query && '?…', hash && '#…'].join(''),
  );
  return shown.length <= max ? shown : `${cutText(shown, max)}…`;
};

/** Every attempt failed. `cause` is the last attempt's error; the message ends with its message. */
export class RetryExhaustedError extends ResilienceError {
  declare readonly code: 'retry_exhausted';
  readonly attempts: number;
  readonly reason: 'max_attempts' | 'deadline';
  constructor(attempts: number, cause: unknown, reason: 'max_attempts' | 'deadline' = 'max_attempts') {
    const why = reason === 'deadline' ? 'the next wait would pass the deadline' : 'no attempts left';
    super('retry_exhausted', `Gave up after ${attempts} attempt(s), ${why}: ${messageOf(cause)}`, { cause });
    this.attempts = attempts;
    this.reason = reason;
  }
}

/** An idempotency key reused while its first request is in flight, or with another payload. */
export class IdempotencyConflictError extends ResilienceError {
  declare readonly code: 'in_flight' | 'fingerprint_mismatch';
  constructor(code: 'in_flight' | 'fingerprint_mismatch', message?: string) {
    super(
      code,
      message ??
        (code === 'in_flight'
          ? 'A request with this idempotency key is still in progress'
          : 'This idempotency key was used with a different request payload'),
    );
  }
}

/**
 * An idempotent call ran, but the store failed to record its `outcome` (`{ ok, value | error }`)
 * on every attempt; the key stays in flight until `lockTimeoutMs`. See docs/idempotency.md.
 */
export class IdempotencyRecordError extends ResilienceError {
  declare readonly code: 'record_failed';
  readonly outcome: { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: unknown };
  readonly attempts: number;
  constructor(outcome: IdempotencyRecordError['outcome'], attempts: number, cause: unknown) {
    super(
      'record_failed',
      `The call ran, but its outcome could not be recorded after ${attempts} attempt(s): ${messageOf(cause)}. ` +
        'Its key stays in flight until lockTimeoutMs; after that a call with it runs again',
      { cause },
    );
    this.outcome = outcome;
    this.attempts = attempts;
  }
}

/** A saga used wrongly (no steps, duplicate step names, ...). Step failures are reported, not thrown. */
export class SagaError extends ResilienceError {
  declare readonly code: 'saga_misuse';
  constructor(message: string, options?: { cause?: unknown }) {
    super('saga_misuse', message, options);
  }
}

/**
 * A bounded store refused a write rather than evict a pinned key (an in-flight lock): its
 * pins are at their bound, or every key it holds is pinned. Nothing was written.
 */
export class StoreFullError extends ResilienceError {
  declare readonly code: 'store_full';
  constructor(message: string) {
    super('store_full', message);
  }
}

/**
 * A request shed by a client-side adaptive throttle before it was sent: the dependency has
 * been refusing a large share of recent requests. One of the toolkit's own rejections: not
 * transient, not counted by a breaker, and not retried unless asked.
 */
export class ThrottledError extends ResilienceError {
  declare readonly code: 'throttled';
  /** The rejection probability the request was subject to. */
  readonly probability: number;
  constructor(probability: number, message = `Throttled locally (rejection probability ${probability.toFixed(2)})`) {
    super('throttled', message);
    this.probability = probability;
  }
}

/**
 * A store could not be reached or did not answer in time (a networked store such as
 * Redis: connection refused or lost, its own `timeoutMs` passed, an error reply). `cause`
 * holds the client's error. A timed-out operation may still run on the server later.
 */
export class StoreUnavailableError extends ResilienceError {
  declare readonly code: 'store_unavailable';
  constructor(message: string, options?: { cause?: unknown }) {
    super('store_unavailable', message, options);
  }
}

/** The class of each code's errors: what `isResilienceError(error, code)` narrows to. */
export interface ResilienceErrorOf {
  invalid_options: ConfigurationError;
  circuit_open: BrokenCircuitError;
  circuit_isolated: BrokenCircuitError;
  timeout: TimeoutError;
  request_timeout: RequestTimeoutError;
  bulkhead_full: BulkheadRejectedError;
  rate_limited: RateLimitExceededError;
  retry_exhausted: RetryExhaustedError;
  in_flight: IdempotencyConflictError;
  fingerprint_mismatch: IdempotencyConflictError;
  record_failed: IdempotencyRecordError;
  saga_misuse: SagaError;
  transaction_failed: TransactionError;
  store_full: StoreFullError;
  throttled: ThrottledError;
  store_unavailable: StoreUnavailableError;
}

/** True for any error thrown by the toolkit, or only for those with `code` (narrowed to its class). */
export function isResilienceError<C extends ResilienceErrorCode>(
  error: unknown,
  code: C,
): error is ResilienceErrorOf[C];
export function isResilienceError(error: unknown, code?: ResilienceErrorCode): error is ResilienceError;
export function isResilienceError(error: unknown, code?: ResilienceErrorCode): error is ResilienceError {
  try {
    if (typeof error !== 'object' || error === null || !(BRAND in error)) return false;
    return code === undefined || (error as ResilienceError).code === code;
  } catch {
    return false; // a revoked Proxy, a trap that throws: none of ours
  }
}

export const isBrokenCircuitError = (error: unknown): error is BrokenCircuitError =>
  isResilienceError(error, 'circuit_open') || isResilienceError(error, 'circuit_isolated');
export const isTimeoutError = (error: unknown): error is TimeoutError => isResilienceError(error, 'timeout');
export const isRequestTimeoutError = (error: unknown): error is RequestTimeoutError =>
  isResilienceError(error, 'request_timeout');
export const isBulkheadRejectedError = (error: unknown): error is BulkheadRejectedError =>
  isResilienceError(error, 'bulkhead_full');
export const isRateLimitExceededError = (error: unknown): error is RateLimitExceededError =>
  isResilienceError(error, 'rate_limited');
export const isRetryExhaustedError = (error: unknown): error is RetryExhaustedError =>
  isResilienceError(error, 'retry_exhausted');
export const isConfigurationError = (error: unknown): error is ConfigurationError =>
  isResilienceError(error, 'invalid_options');
export const isStoreFullError = (error: unknown): error is StoreFullError => isResilienceError(error, 'store_full');
export const isThrottledError = (error: unknown): error is ThrottledError => isResilienceError(error, 'throttled');
export const isIdempotencyRecordError = (error: unknown): error is IdempotencyRecordError =>
  isResilienceError(error, 'record_failed');
export const isStoreUnavailableError = (error: unknown): error is StoreUnavailableError =>
  isResilienceError(error, 'store_unavailable');

const OWN_REJECTIONS: readonly ResilienceErrorCode[] = [
  'circuit_open',
  'circuit_isolated',
  'bulkhead_full',
  'rate_limited',
  'throttled',
];

/**
 * The toolkit's own load-shedding rejections (open breaker, full bulkhead, rate limit,
 * client-side throttle). A breaker does not count these as failures of the dependency.
 */
export const isOwnRejection = (error: unknown): boolean =>
  isResilienceError(error) && OWN_REJECTIONS.includes(error.code);
