import type { Bag } from './bag.js';
import type { ErrorCategory } from './classify.js';

/**
 * Where a marker is read: the error's string `name` or `code`, or `grpc`, a numeric `code`
 * beside gRPC's `details` or `metadata` (grpc-js, nice-grpc, Connect).
 */
type Field = 'name' | 'code' | 'grpc';

/**
 * llhttp's `HPE_*` codes (but `HPE_HEADER_OVERFLOW`, the client's own limit), zlib's `Z_*` and
 * brotli's (Node prefixes `ERR_` to its name less `BROTLI_DECODER`: `ERR__ERROR_FORMAT_PADDING_1`;
 * no other Node code has a double underscore), through Node's http client or undici.
 */
export const NOT_HTTP = /^(HPE_(?!HEADER_OVERFLOW)|Z_|ERR__)/;

/** One marker: where it is read, the pattern it matches, its category and whether retrying may succeed. */
export type ErrorMarker = readonly [field: Field, pattern: RegExp, category: ErrorCategory, transient: boolean];

/**
 * The markers that runtimes, HTTP clients, database drivers and SDKs put on their errors, in
 * the order they are tried (the first that matches decides). Data, not code, so the table
 * costs a bundle only its patterns. The codes of one verdict share a row: no error carries
 * two codes, so their order among themselves never decides. After these, `classify` reads the
 * AWS SDK's `$retryable`, then an HTTP status, then the `cause`, then the message.
 */
export const ERROR_MARKERS: readonly ErrorMarker[] = [
  // AbortError and axios CanceledError; Node, undici and axios cancellation codes.
  ['name', /^(AbortError|CanceledError)$/, 'cancelled', false],
  ['code', /^(ABORT_ERR|ERR_CANCELED|UND_ERR_ABORTED)$/, 'cancelled', false],
  // TimeoutError (AbortSignal.timeout, AWS); Node, undici and axios timeout codes (axios reports
  // its own timeouts as ECONNABORTED); PostgreSQL SQLSTATE 55P03 lock_not_available; MySQL
  // ER_LOCK_WAIT_TIMEOUT (1205); SQLite SQLITE_BUSY and its extended codes.
  ['name', /^TimeoutError$/, 'timeout', true],
  [
    'code',
    /^(ETIMEDOUT|ESOCKETTIMEDOUT|ETIMEOUT|ECONNABORTED|UND_ERR_CONNECT_TIMEOUT|UND_ERR_HEADERS_TIMEOUT|UND_ERR_BODY_TIMEOUT|ERR_SOCKET_CONNECTION_TIMEOUT|ETIME|55P03|ER_LOCK_WAIT_TIMEOUT)$|^SQLITE_BUSY/,
    'timeout',
    true,
  ],
  // Node, undici and axios (ERR_NETWORK) network codes; PostgreSQL SQLSTATE class 08
  // connection exception and 57P01-57P03 shutting down.
  [
    'code',
    /^(ECONNRESET|ECONNREFUSED|EPIPE|EAI_AGAIN|ENOTFOUND|EHOSTUNREACH|EHOSTDOWN|ENETUNREACH|ENETDOWN|ENETRESET|ENOTCONN|EADDRNOTAVAIL|UND_ERR_SOCKET|UND_ERR_CLOSED|ERR_STREAM_PREMATURE_CLOSE|ERR_NETWORK|ERR_HTTP2_STREAM_ERROR|ERR_HTTP2_SESSION_ERROR|08[0-9A-Z]{3}|57P0[123])$/,
    'network',
    true,
  ],
  // An answer that is no HTTP (llhttp's parse errors, but for headers over the client's limit)
  // or a body that does not decompress (gzip, deflate, brotli): the host failed, the same on every try.
  ['code', NOT_HTTP, 'dependency', false],
  // Response headers over the client's own limit (Node's http client, undici): the same on every try.
  ['code', /^(HPE_HEADER_OVERFLOW|UND_ERR_HEADERS_OVERFLOW)$/, 'validation', false],
  // PostgreSQL SQLSTATE 40001 serialization_failure and 40P01 deadlock_detected; MySQL
  // ER_LOCK_DEADLOCK (1213); SQLite SQLITE_LOCKED and its extended codes.
  ['code', /^(40001|40P01|ER_LOCK_DEADLOCK)$|^SQLITE_LOCKED/, 'invalid_state', true],
  // gRPC statuses: 1 CANCELLED, 3 INVALID_ARGUMENT, 4 DEADLINE_EXCEEDED, 7 PERMISSION_DENIED,
  // 16 UNAUTHENTICATED, 8 RESOURCE_EXHAUSTED, 14 UNAVAILABLE.
  ['grpc', /^1$/, 'cancelled', false],
  ['grpc', /^3$/, 'validation', false],
  ['grpc', /^4$/, 'timeout', true],
  ['grpc', /^(7|16)$/, 'auth', false],
  ['code', /^28[0-9A-Z]{3}$/, 'auth', false], // PostgreSQL SQLSTATE class 28: invalid authorization
  ['grpc', /^8$/, 'rate_limit', true],
  ['grpc', /^14$/, 'dependency', true],
  // AWS throttling errors (their HTTP status is often 400).
  [
    'name',
    /^(ThrottlingException|Throttling|ThrottledException|RequestThrottledException|TooManyRequestsException|ProvisionedThroughputExceededException|RequestLimitExceeded|RequestThrottled|SlowDown)$/,
    'rate_limit',
    true,
  ],
];

/** The first marker `error` carries, if any. */
export function markerOf(error: Bag): ErrorMarker | undefined {
  const { name, code } = error;
  const grpc = typeof code === 'number' && ('details' in error || 'metadata' in error) ? String(code) : undefined;
  const fields = { name, code, grpc };
  for (const marker of ERROR_MARKERS) {
    const value = fields[marker[0]];
    if (typeof value === 'string' && marker[1].test(value)) return marker;
  }
  return undefined;
}
