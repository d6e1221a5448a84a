import type { ErrorCategory } from './classify.js';

type Bag = Record<string, unknown>;
const asBag = (v: unknown): Bag | undefined => (typeof v === 'object' && v !== null ? (v as Bag) : undefined);

/** One marker that runtimes, HTTP clients and SDKs put on their errors, and what it means. */
export interface ErrorMarker {
  /** Who sets the marker and what it is. */
  readonly source: string;
  readonly matches: (error: Bag) => boolean;
  readonly category: ErrorCategory;
  /** Whether retrying (the call, or the whole transaction) may succeed. */
  readonly transient: boolean;
}

const codes = (...list: string[]) => {
  const set = new Set(list);
  return (e: Bag) => typeof e.code === 'string' && set.has(e.code);
};
const codeLike = (pattern: RegExp) => (e: Bag) => typeof e.code === 'string' && pattern.test(e.code);
const names = (...list: string[]) => {
  const set = new Set(list);
  return (e: Bag) => typeof e.name === 'string' && set.has(e.name);
};
const either =
  (...tests: ((e: Bag) => boolean)[]) =>
  (e: Bag) =>
    tests.some((test) => test(e));
/** A gRPC status: a numeric `code` beside gRPC's `details` or `metadata` (grpc-js, nice-grpc, Connect). */
const grpc =
  (...statuses: number[]) =>
  (e: Bag) =>
    typeof e.code === 'number' && statuses.includes(e.code) && ('details' in e || 'metadata' in e);

/**
 * The markers `classify` and `isTransient` recognise, in the order they are tried (the first
 * that matches decides). An HTTP status (`status`, `statusCode`, `response.status`, AWS's
 * `$metadata.httpStatusCode`) is read after these, then the `cause`, then the message.
 */
export const ERROR_MARKERS: readonly ErrorMarker[] = [
  {
    source: 'AbortError and axios CanceledError; Node, undici and axios cancellation codes',
    matches: either(names('AbortError', 'CanceledError'), codes('ABORT_ERR', 'ERR_CANCELED', 'UND_ERR_ABORTED')),
    category: 'cancelled',
    transient: false,
  },
  {
    source: 'TimeoutError (AbortSignal.timeout, AWS); Node, undici and axios timeout codes',
    matches: either(
      names('TimeoutError'),
      codes(
        'ETIMEDOUT',
        'ESOCKETTIMEDOUT',
        'ETIMEOUT',
        'ECONNABORTED', // axios reports its own timeouts with this code
        'UND_ERR_CONNECT_TIMEOUT',
        'UND_ERR_HEADERS_TIMEOUT',
        'UND_ERR_BODY_TIMEOUT',
        'ERR_SOCKET_CONNECTION_TIMEOUT',
        'ETIME',
      ),
    ),
    category: 'timeout',
    transient: true,
  },
  {
    source: 'Node, undici and axios network codes',
    matches: codes(
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
    ),
    category: 'network',
    transient: true,
  },
  {
    source: 'PostgreSQL SQLSTATE 40001 serialization_failure, 40P01 deadlock_detected',
    matches: codes('40001', '40P01'),
    category: 'invalid_state',
    transient: true,
  },
  {
    source: 'PostgreSQL SQLSTATE 55P03 lock_not_available',
    matches: codes('55P03'),
    category: 'timeout',
    transient: true,
  },
  {
    source: 'PostgreSQL SQLSTATE class 08 connection exception, 57P01-57P03 shutting down',
    matches: codeLike(/^(08[0-9A-Z]{3}|57P0[123])$/),
    category: 'network',
    transient: true,
  },
  {
    source: 'MySQL ER_LOCK_DEADLOCK (1213)',
    matches: codes('ER_LOCK_DEADLOCK'),
    category: 'invalid_state',
    transient: true,
  },
  {
    source: 'MySQL ER_LOCK_WAIT_TIMEOUT (1205)',
    matches: codes('ER_LOCK_WAIT_TIMEOUT'),
    category: 'timeout',
    transient: true,
  },
  {
    source: 'SQLite SQLITE_BUSY and its extended codes',
    matches: codeLike(/^SQLITE_BUSY/),
    category: 'timeout',
    transient: true,
  },
  {
    source: 'SQLite SQLITE_LOCKED and its extended codes',
    matches: codeLike(/^SQLITE_LOCKED/),
    category: 'invalid_state',
    transient: true,
  },
  { source: 'gRPC 1 CANCELLED', matches: grpc(1), category: 'cancelled', transient: false },
  { source: 'gRPC 3 INVALID_ARGUMENT', matches: grpc(3), category: 'validation', transient: false },
  { source: 'gRPC 4 DEADLINE_EXCEEDED', matches: grpc(4), category: 'timeout', transient: true },
  { source: 'gRPC 7 PERMISSION_DENIED, 16 UNAUTHENTICATED', matches: grpc(7, 16), category: 'auth', transient: false },
  { source: 'gRPC 8 RESOURCE_EXHAUSTED', matches: grpc(8), category: 'rate_limit', transient: true },
  { source: 'gRPC 14 UNAVAILABLE', matches: grpc(14), category: 'dependency', transient: true },
  {
    source: 'AWS throttling errors (ThrottlingException, …; their HTTP status is often 400)',
    matches: names(
      'ThrottlingException',
      'Throttling',
      'ThrottledException',
      'RequestThrottledException',
      'TooManyRequestsException',
      'ProvisionedThroughputExceededException',
      'RequestLimitExceeded',
      'RequestThrottled',
      'SlowDown',
    ),
    category: 'rate_limit',
    transient: true,
  },
  {
    source: 'AWS SDK v3 $retryable with throttling',
    matches: (e) => asBag(e.$retryable)?.throttling === true,
    category: 'rate_limit',
    transient: true,
  },
  {
    source: 'AWS SDK v3 $retryable',
    matches: (e) => asBag(e.$retryable) !== undefined,
    category: 'dependency',
    transient: true,
  },
];

/** The first marker `error` carries, if any. */
export function markerOf(error: Bag): ErrorMarker | undefined {
  for (const marker of ERROR_MARKERS) if (marker.matches(error)) return marker;
  return undefined;
}
