import { asBag } from './bag.js';
import { isOwnRejection, isResilienceError, type ResilienceErrorCode } from './errors.js';
import { markerOf } from './markers.js';

/** The categories every error is sorted into (DESIGN.md, "errors"). */
export type ErrorCategory =
  | 'timeout'
  | 'network'
  | 'auth'
  | 'validation'
  | 'rate_limit'
  | 'invalid_state'
  | 'cancelled'
  | 'configuration'
  | 'dependency'
  | 'unknown';

// Every code but the two wrappers, which take their cause's category: the compiler keeps the
// table complete when a code is added.
const OWN_CODES: Record<Exclude<ResilienceErrorCode, 'retry_exhausted' | 'transaction_failed'>, ErrorCategory> = {
  invalid_options: 'configuration',
  timeout: 'timeout',
  request_timeout: 'timeout',
  rate_limited: 'rate_limit',
  circuit_open: 'dependency',
  circuit_isolated: 'dependency',
  bulkhead_full: 'dependency',
  throttled: 'dependency',
  in_flight: 'invalid_state',
  fingerprint_mismatch: 'validation',
  saga_misuse: 'configuration',
  // A store that could not answer, was full or could not record: what the call depends on failed.
  store_unavailable: 'dependency',
  store_full: 'dependency',
  record_failed: 'dependency',
};

/**
 * The HTTP status found on common error shapes (`status`, `statusCode`, `response.status`,
 * the AWS SDK's `$metadata.httpStatusCode`, a tRPC client error's `data.httpStatus`, else
 * the error status of its HTTP response, `meta.response.status`: a batch answers 207).
 */
export function statusOf(error: unknown): number | undefined {
  const e = asBag(error);
  if (!e) return undefined;
  const response = asBag(e.response);
  const metadata = asBag(e.$metadata);
  for (const v of [
    e.status,
    e.statusCode,
    response?.status,
    response?.statusCode,
    metadata?.httpStatusCode,
    asBag(e.data)?.httpStatus,
  ]) {
    if (typeof v === 'number' && v >= 100 && v <= 599) return v;
  }
  const meta = asBag(asBag(e.meta)?.response)?.status;
  return typeof meta === 'number' && meta >= 400 && meta <= 599 ? meta : undefined;
}

/** Statuses with a category of their own; any other 4xx is a validation error, any other 5xx the dependency's. */
const STATUS_CATEGORIES: Record<number, ErrorCategory> = {
  401: 'auth',
  403: 'auth',
  407: 'auth',
  408: 'timeout',
  409: 'invalid_state',
  412: 'invalid_state',
  423: 'invalid_state',
  429: 'rate_limit',
  504: 'timeout',
};

const byStatus = (status: number): ErrorCategory | undefined =>
  STATUS_CATEGORIES[status] ?? (status >= 500 ? 'dependency' : status >= 400 ? 'validation' : undefined);

const MESSAGE_RULES: ReadonlyArray<[RegExp, ErrorCategory]> = [
  [/\btimed? ?out\b|\btimeout\b|deadline exceeded/i, 'timeout'],
  [/rate.?limit|too many requests|quota exceeded/i, 'rate_limit'],
  [/socket hang up|connection (reset|refused|closed|lost)|network error|fetch failed/i, 'network'],
  [/unauthori[sz]ed|forbidden|invalid api key|authentication/i, 'auth'],
];

/** A category, and whether retrying may succeed. */
interface Verdict {
  readonly category: ErrorCategory;
  readonly transient: boolean;
}

const UNKNOWN: Verdict = { category: 'unknown', transient: false };
const verdict = (category: ErrorCategory, transient: boolean): Verdict => ({ category, transient });
// The causes undici's fetch gives for a request its own rules refuse.
const FETCH_RULE =
  /^(bad port|unknown scheme|URL scheme|redirect count|unexpected redirect|invalid method|proxy auth|about scheme)/;

const retryableCategory = (c: ErrorCategory) => c === 'network' || c === 'timeout' || c === 'rate_limit';

function assess(error: unknown, depth: number, byName?: boolean): Verdict {
  const e = asBag(error);
  if (!e) return UNKNOWN;
  if (isResilienceError(error)) {
    // Wrappers take the category of what they wrap.
    if ((error.code === 'retry_exhausted' || error.code === 'transaction_failed') && depth < 5) {
      return assess(error.cause, depth + 1, byName);
    }
    // Of the toolkit's own errors only a timeout may pass on a retry: the rest are refusals and misuse.
    const category = OWN_CODES[error.code as keyof typeof OWN_CODES] ?? 'unknown';
    return verdict(category, category === 'timeout');
  }
  const marker = markerOf(e);
  // axios' `ERR_NETWORK` of its fetch adapter names the failure in its cause, as fetch's TypeError does.
  if (marker && (e.code !== 'ERR_NETWORK' || e.cause === undefined)) return verdict(marker[2], marker[3]);
  const retryable = asBag(e.$retryable); // the AWS SDK v3's mark of a retryable error
  if (retryable) return verdict(retryable.throttling === true ? 'rate_limit' : 'dependency', true);
  const status = statusOf(error);
  const fromStatus = status === undefined ? undefined : byStatus(status);
  if (fromStatus) return verdict(fromStatus, retryableCategory(fromStatus) || fromStatus === 'dependency');
  if (depth < 5 && e.cause !== undefined) {
    const fromCause = assess(e.cause, depth + 1, byName);
    if (fromCause.category !== 'unknown') return fromCause;
  }
  const name = typeof e.name === 'string' ? e.name : '';
  const message = typeof e.message === 'string' ? e.message : '';
  // fetch's own TypeError: a request its rules refuse (its cause, without a code, says which),
  // or a cause whose code is none of the transient ones above (a TLS refusal, headers over
  // undici's limit, an answer that is no HTTP), fails the same on every try; else a network
  // failure whose cause was lost or never set.
  if (name === 'TypeError' && /^(fetch failed|failed to fetch)$/i.test(message)) {
    const cause = asBag(e.cause);
    return typeof cause?.code === 'string' || FETCH_RULE.test(`${cause?.message}`)
      ? verdict('validation', false)
      : verdict('network', true);
  }
  if (name === 'SyntaxError' || name === 'RangeError' || name === 'TypeError') return verdict('validation', false);
  if (/validation|zoderror|invalid/i.test(name)) return verdict('validation', false);
  for (const [pattern, category] of MESSAGE_RULES) {
    if (pattern.test(byName ? name : message)) return verdict(category, retryableCategory(category));
  }
  return UNKNOWN;
}

/**
 * Sorts an error into one category by, in turn: the toolkit's codes, `ERROR_MARKERS` (Node,
 * undici, SQLSTATE, gRPC, AWS), an HTTP status, the `cause` chain, the name, the message.
 */
export function classify(error: unknown): ErrorCategory {
  try {
    return assess(error, 0).category;
  } catch {
    return 'unknown'; // a field that throws when read (a getter, a revoked Proxy)
  }
}

/**
 * {@link classify} reading an error's name where it reads the message: for a status to answer
 * with, which text a client put in a message (`'no such user: forbidden'`) must not choose.
 */
export function classifyByName(error: unknown): ErrorCategory {
  try {
    return assess(error, 0, true).category;
  } catch {
    return 'unknown';
  }
}

/**
 * Whether retrying may help: network failures, timeouts, 429s, 5xx and the retryable markers
 * of drivers, gRPC and AWS; an explicit boolean `retryable` / `transient` wins. Never the
 * toolkit's own rejections. The whole table is in docs/errors.md.
 */
export function isTransient(error: unknown): boolean {
  try {
    const e = asBag(error);
    if (!e || isOwnRejection(error)) return false;
    if (typeof e.retryable === 'boolean') return e.retryable;
    if (typeof e.transient === 'boolean') return e.transient;
    // A spent quota is a 429 that no wait refills (OpenAI's `insufficient_quota`: billing).
    if (e.code === 'insufficient_quota' || e.type === 'insufficient_quota') return false;
    return assess(error, 0).transient;
  } catch {
    return false; // as classify: unreadable, so unknown
  }
}
