import { classify, isOwnRejection, statusOf } from '@resilience/core';

/**
 * Every attribute this package sets, on metrics, spans and span events. Values are
 * low-cardinality by construction: names you choose, fixed enumerations, error classes or
 * codes and small numbers — never a user id, a rate-limit key, a URL or an error message.
 */
export const ATTRIBUTES = {
  /** The `name` given to `instrument` (for `instrumentAll`, each breaker's name cut to 100 characters: the first 32, then `_OTHER`). */
  policyName: 'resilience.policy.name',
  /**
   * The host (or `key`) of a resilient client's event, as the client keeps it (`api.example.com`,
   * `127.0.0.1:8080`), on what `instrument(client)` counts: the first 32 hosts, then `_OTHER`.
   */
  host: 'resilience.host',
  /** How a call or attempt ended: see {@link Outcome}. */
  outcome: 'resilience.outcome',
  /** The error's `code` (`timeout`, `ECONNRESET`, `40001`), else its HTTP error status (`503`), else its class name; `_OTHER` when neither is usable, and on metrics past the first 20 values (`MAX_ERROR_TYPES`). */
  errorType: 'error.type',
  /** Why a retry was made: `classify(error)` of the failure (`timeout`, `network`, `rate_limit`, ...). */
  retryReason: 'resilience.retry.reason',
  /** Why a policy refused a call: see {@link RejectionReason}. */
  rejectionReason: 'resilience.rejection.reason',
  /** A breaker's state: `closed`, `open`, `half-open` or `isolated`. */
  breakerState: 'resilience.breaker.state',
  /** The state a breaker left (on the state-change span event). */
  breakerPreviousState: 'resilience.breaker.previous_state',
  /** The attempt's number: 1 for the first, 2 for the first retry or hedge. */
  attempt: 'resilience.attempt',
  /** Seconds the policy waited before the attempt: a retry's backoff, a hedge's delay. */
  attemptDelay: 'resilience.attempt.delay',
  /** The time limit that expired, in seconds (on the timeout span event). */
  timeoutLimit: 'resilience.timeout.limit',
  /** What a server adapter decided about the request (set by `instrumentHttpDecisions`): see `HttpDecisionKind` in core. */
  decision: 'resilience.decision',
  /** An HTTP response replayed from an idempotency record (set by `annotateActiveSpan` and `instrumentHttpDecisions`). */
  idempotencyReplayed: 'resilience.idempotency.replayed',
} as const;

/** `resilience.outcome`: resolved, failed, refused by one of the toolkit's own policies, or cancelled by its caller. */
export type Outcome = 'success' | 'failure' | 'rejected' | 'cancelled';

/**
 * `resilience.rejection.reason`: an open (half-open, isolated) breaker, a full bulkhead, a
 * rate limit, load shedding, an adaptive throttle, a spent retry budget; `_OTHER` for a rejection of another kind.
 */
export type RejectionReason =
  | 'broken_circuit'
  | 'bulkhead_full'
  | 'rate_limited'
  | 'shed'
  | 'throttled'
  | 'budget_spent'
  | '_OTHER';

/** The outcome of a call or attempt that rejected with `error` (`failure` for one whose properties throw when read). */
export function failureOutcome(error: unknown): Outcome {
  try {
    if (isOwnRejection(error)) return 'rejected';
    return classify(error) === 'cancelled' ? 'cancelled' : 'failure';
  } catch {
    return 'failure';
  }
}

// A code or class name: word characters, dots, dashes, colons; at most 64 of them.
const TYPE = /^[\w.:-]{1,64}$/;

/** An error's `code` (a short string or integer), if it has one. A `DOMException`'s is a legacy constant (20 for every abort). */
function codeOf(error: object): string | undefined {
  const { code } = error as { code?: unknown };
  if (typeof code === 'string' && TYPE.test(code)) return code;
  if (Number.isSafeInteger(code) && !(error instanceof DOMException)) return String(code);
  return undefined;
}

/**
 * `error.type` of `error`: its `code`, else its HTTP error status (`'503'`, as the HTTP conventions give it), else
 * the `code` of its `cause` (two levels: Node's fetch fails with `TypeError: fetch failed` whose cause is the
 * `ECONNREFUSED`), else its `name`, else `_OTHER` (also for one whose properties throw when read).
 */
export function errorType(error: unknown): string {
  if (typeof error !== 'object' || error === null) return '_OTHER';
  try {
    const own = codeOf(error);
    if (own !== undefined) return own;
    const status = statusOf(error);
    if (status !== undefined && status >= 400) return String(status);
    let cause = (error as { cause?: unknown }).cause;
    for (let depth = 0; depth < 2 && typeof cause === 'object' && cause !== null; depth++) {
      const code = codeOf(cause);
      if (code !== undefined) return code;
      cause = (cause as { cause?: unknown }).cause;
    }
    const { name } = error as { name?: unknown };
    if (typeof name === 'string' && TYPE.test(name)) return name;
  } catch {
    // A getter that throws (a revoked proxy, a closed driver handle): no type to read.
  }
  return '_OTHER';
}

/** Most `error.type` values one `instrument()` or `instrumentAll()` call puts on metrics; later ones are `_OTHER`. */
export const MAX_ERROR_TYPES = 20;

/** Most breaker names one `instrumentAll()` call reports; later ones are `_OTHER`. */
export const MAX_BREAKER_NAMES = 32;

/** Longest `resilience.policy.name`: `instrument()` refuses a longer name, `instrumentAll()` cuts a breaker's. */
export const MAX_NAME_LENGTH = 100;

/**
 * Keeps the first `max` distinct values as they are and makes any later one `_OTHER`: for
 * attribute values that are not ours to choose (an upstream's error `code`, a breaker named
 * per host), each of which would otherwise be a metric series kept for good.
 */
export function firstValues(max: number): (value: string) => string {
  const kept = new Set<string>();
  return (value) => {
    if (kept.has(value)) return value;
    if (kept.size >= max) return '_OTHER';
    kept.add(value);
    return value;
  };
}
