import { isOwnRejection, isResilienceError } from './errors.js';

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

type Bag = Record<string, unknown>;
const asBag = (v: unknown): Bag | undefined => (typeof v === 'object' && v !== null ? (v as Bag) : undefined);

const TIMEOUT_CODES = new Set([
  'ETIMEDOUT',
  'ESOCKETTIMEDOUT',
  'ETIMEOUT',
  'ECONNABORTED', // axios reports its own timeouts with this code
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'ERR_SOCKET_CONNECTION_TIMEOUT',
  'ETIME',
]);
const NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'EAI_AGAIN',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'ENETRESET',
  'ENOTCONN',
  'EADDRNOTAVAIL',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'ERR_STREAM_PREMATURE_CLOSE',
  'ERR_NETWORK', // axios
  'ERR_HTTP2_STREAM_ERROR',
  'ERR_HTTP2_SESSION_ERROR',
]);
const CANCEL_CODES = new Set(['ABORT_ERR', 'ERR_CANCELED', 'UND_ERR_ABORTED']);

const OWN_CODES: Record<string, ErrorCategory> = {
  invalid_options: 'configuration',
  timeout: 'timeout',
  rate_limited: 'rate_limit',
  circuit_open: 'dependency',
  circuit_isolated: 'dependency',
  bulkhead_full: 'dependency',
  in_flight: 'invalid_state',
  fingerprint_mismatch: 'validation',
  saga_misuse: 'configuration',
};

/** The HTTP status found on common error shapes (`status`, `statusCode`, `response.status`). */
export function statusOf(error: unknown): number | undefined {
  const e = asBag(error);
  if (!e) return undefined;
  const response = asBag(e.response);
  for (const v of [e.status, e.statusCode, response?.status, response?.statusCode]) {
    if (typeof v === 'number' && v >= 100 && v <= 599) return v;
  }
  return undefined;
}

function byStatus(status: number): ErrorCategory | undefined {
  if (status === 408) return 'timeout';
  if (status === 429) return 'rate_limit';
  if (status === 401 || status === 403 || status === 407) return 'auth';
  if (status === 409 || status === 412 || status === 423) return 'invalid_state';
  if (status >= 400 && status < 500) return 'validation';
  if (status === 504) return 'timeout';
  if (status >= 500) return 'dependency';
  return undefined;
}

const MESSAGE_RULES: ReadonlyArray<[RegExp, ErrorCategory]> = [
  [/\btimed? ?out\b|\btimeout\b|deadline exceeded/i, 'timeout'],
  [/rate.?limit|too many requests|quota exceeded/i, 'rate_limit'],
  [/socket hang up|connection (reset|refused|closed|lost)|network error|fetch failed/i, 'network'],
  [/unauthori[sz]ed|forbidden|invalid api key|authentication/i, 'auth'],
];

/**
 * Sorts an error into one category, looking in turn at: the toolkit's own codes, abort and
 * timeout names, Node/undici/axios error codes, an HTTP status on the error or its
 * `response`, well-known error names, the `cause` chain, and finally the message.
 */
export function classify(error: unknown, depth = 0): ErrorCategory {
  const e = asBag(error);
  if (!e) return 'unknown';
  if (isResilienceError(error)) {
    // Wrappers take the category of what they wrap.
    if ((error.code === 'retry_exhausted' || error.code === 'transaction_failed') && depth < 5) {
      return classify(error.cause, depth + 1);
    }
    return OWN_CODES[error.code] ?? 'unknown';
  }
  const name = typeof e.name === 'string' ? e.name : '';
  const code = typeof e.code === 'string' ? e.code : '';
  if (name === 'AbortError' || CANCEL_CODES.has(code) || name === 'CanceledError') return 'cancelled';
  if (name === 'TimeoutError' || TIMEOUT_CODES.has(code)) return 'timeout';
  if (NETWORK_CODES.has(code)) return 'network';
  const status = statusOf(error);
  const fromStatus = status === undefined ? undefined : byStatus(status);
  if (fromStatus) return fromStatus;
  if (depth < 5 && e.cause !== undefined) {
    const fromCause = classify(e.cause, depth + 1);
    if (fromCause !== 'unknown') return fromCause;
  }
  if (name === 'SyntaxError' || name === 'RangeError' || name === 'TypeError') return 'validation';
  if (/validation|zoderror|invalid/i.test(name)) return 'validation';
  const message = typeof e.message === 'string' ? e.message : '';
  for (const [pattern, category] of MESSAGE_RULES) if (pattern.test(message)) return category;
  return 'unknown';
}

/**
 * Whether retrying may help: network failures, timeouts, rate limits (429) and 5xx answers.
 * An explicit boolean `retryable` (or `transient`) property on the error wins. Client
 * errors (4xx other than 408/429), validation, auth, configuration, cancellation and
 * unknown errors are not transient, and neither are the toolkit's own rejections (open
 * breaker, full bulkhead, rate-limit refusal: `isOwnRejection`), whatever their cause:
 * they were refused here, not failed by the dependency.
 */
export function isTransient(error: unknown): boolean {
  const e = asBag(error);
  if (!e || isOwnRejection(error)) return false;
  if (typeof e.retryable === 'boolean') return e.retryable;
  if (typeof e.transient === 'boolean') return e.transient;
  const category = classify(error);
  if (category === 'network' || category === 'timeout' || category === 'rate_limit') return true;
  if (category === 'dependency') {
    const status = statusOf(error) ?? statusOf(e.cause);
    return status !== undefined && status >= 500;
  }
  return false;
}
