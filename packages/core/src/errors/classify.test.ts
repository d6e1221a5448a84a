import { describe, expect, it } from 'vitest';
import { classify, isTransient, statusOf } from './classify.js';
import {
  BrokenCircuitError,
  BulkheadRejectedError,
  ConfigurationError,
  IdempotencyConflictError,
  IsolatedCircuitError,
  RateLimitExceededError,
  RequestTimeoutError,
  ResilienceError,
  RetryExhaustedError,
  TimeoutError,
} from './errors.js';
import { ERROR_MARKERS, markerOf } from './markers.js';

const withCode = (code: string) => Object.assign(new Error(code), { code });
const withStatus = (status: number) => Object.assign(new Error(`HTTP ${status}`), { status });

describe('classify', () => {
  it.each([
    ['ECONNRESET', 'network'],
    ['ECONNREFUSED', 'network'],
    ['EPIPE', 'network'],
    ['EAI_AGAIN', 'network'],
    ['ENOTFOUND', 'network'],
    ['ETIMEDOUT', 'timeout'],
    ['ECONNABORTED', 'timeout'],
    ['UND_ERR_CONNECT_TIMEOUT', 'timeout'],
    ['ERR_CANCELED', 'cancelled'],
  ])('sorts Node error code %s as %s', (code, category) => {
    expect(classify(withCode(code))).toBe(category);
  });

  it.each([
    [408, 'timeout'],
    [429, 'rate_limit'],
    [401, 'auth'],
    [403, 'auth'],
    [409, 'invalid_state'],
    [400, 'validation'],
    [404, 'validation'],
    [422, 'validation'],
    [500, 'dependency'],
    [503, 'dependency'],
    [504, 'timeout'],
  ])('sorts HTTP status %i as %s', (status, category) => {
    expect(classify(withStatus(status))).toBe(category);
  });

  it('finds the status on statusCode and on an axios-style response', () => {
    expect(statusOf({ statusCode: 502 })).toBe(502);
    expect(statusOf({ response: { status: 429 } })).toBe(429);
    expect(classify({ response: { status: 429 } })).toBe('rate_limit');
    expect(statusOf({ status: 'bad' })).toBeUndefined();
  });

  it('sorts abort and timeout names', () => {
    const abort = new Error('aborted');
    abort.name = 'AbortError';
    expect(classify(abort)).toBe('cancelled');
    expect(classify(new DOMException('signal timed out', 'TimeoutError'))).toBe('timeout');
  });

  it('looks through the cause chain, as fetch wraps network errors', () => {
    const fetchFailure = new TypeError('fetch failed', { cause: withCode('ECONNREFUSED') });
    expect(classify(fetchFailure)).toBe('network');
    // A fetch's TypeError whose cause was lost (re-thrown, serialised) or never set (a browser's).
    expect(classify(new TypeError('fetch failed'))).toBe('network');
    expect(classify(new TypeError('Failed to fetch'))).toBe('network');
    expect(isTransient(new TypeError('fetch failed'))).toBe(true);
    expect(classify(new TypeError("Cannot read properties of undefined (reading 'fetch')"))).toBe('validation');
  });

  it("reads fetch's own refusals (a bad port, an unknown scheme) as not worth retrying", async () => {
    const badPort = await fetch('http://127.0.0.1:1/').catch((e: unknown) => e); // refused before any socket
    const scheme = await fetch('ftp://127.0.0.1/').catch((e: unknown) => e);
    for (const refused of [badPort, scheme]) {
      expect(refused).toBeInstanceOf(TypeError);
      expect(isTransient(refused)).toBe(false);
      expect(classify(refused)).toBe('validation');
    }
    const loop = new TypeError('fetch failed', { cause: new Error('redirect count exceeded') });
    expect(isTransient(loop)).toBe(false);
  });

  it('reads a fetch failure whose cause has a code none of the transient ones as the same on every try', () => {
    // undici's: response headers over its limit, a TLS refusal.
    for (const code of ['UND_ERR_HEADERS_OVERFLOW', 'ERR_SSL_WRONG_VERSION_NUMBER']) {
      const failure = new TypeError('fetch failed', { cause: withCode(code) });
      expect([code, classify(failure), isTransient(failure)]).toEqual([code, 'validation', false]);
    }
    // A socket's failure still is a network error (its code is one of them).
    for (const code of ['ECONNRESET', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED']) {
      expect(isTransient(new TypeError('fetch failed', { cause: withCode(code) }))).toBe(true);
    }
  });

  it('reads an answer that is no HTTP as the dependency’s failure, however the client wraps it, and not worth retrying', () => {
    // llhttp's parse error as Node's http client throws it (axios' http adapter), as undici's
    // fetch wraps it, as axios' fetch adapter wraps fetch's (ERR_NETWORK, undici's error as
    // cause); a chunked body that is no HTTP; zlib's on a body that does not decompress.
    const parse = () => withCode('HPE_INVALID_CONSTANT');
    for (const error of [
      parse(),
      new TypeError('fetch failed', { cause: parse() }),
      Object.assign(new Error('Network Error', { cause: parse() }), { name: 'AxiosError', code: 'ERR_NETWORK' }),
      withCode('HPE_INVALID_CHUNK_SIZE'),
      Object.assign(withCode('Z_DATA_ERROR'), { status: 200 }), // axios' http adapter: the 200's body
      // A brotli body that does not decode, as Node's zlib names it (through undici's fetch too).
      withCode('ERR__ERROR_FORMAT_PADDING_1'),
      new TypeError('terminated', { cause: withCode('ERR__ERROR_FORMAT_EXUBERANT_NIBBLE') }),
    ]) {
      expect([error.message, classify(error), isTransient(error)]).toEqual([error.message, 'dependency', false]);
    }
    // Headers over the client's own limit are not the host's bytes gone wrong: the same on every
    // try, from Node's http client, fetch and axios' fetch adapter alike.
    for (const error of [
      withCode('HPE_HEADER_OVERFLOW'),
      new TypeError('fetch failed', { cause: withCode('UND_ERR_HEADERS_OVERFLOW') }),
      Object.assign(new Error('Network Error', { cause: withCode('UND_ERR_HEADERS_OVERFLOW') }), {
        name: 'AxiosError',
        code: 'ERR_NETWORK',
      }),
    ]) {
      expect([classify(error), isTransient(error)]).toEqual(['validation', false]);
    }
    // axios' ERR_NETWORK is read by its cause when it has one, else as a network error.
    const axiosNetwork = (cause?: Error) =>
      Object.assign(new Error('Network Error', { cause }), { name: 'AxiosError', code: 'ERR_NETWORK' });
    expect(classify(axiosNetwork(withCode('ECONNREFUSED')))).toBe('network');
    expect(classify(axiosNetwork())).toBe('network');
    expect(isTransient(axiosNetwork())).toBe(true);
  });

  it('sorts the toolkit’s own errors by code', () => {
    expect(classify(new TimeoutError(100))).toBe('timeout');
    expect(classify(new RequestTimeoutError(100))).toBe('timeout');
    expect(classify(new RateLimitExceededError(100))).toBe('rate_limit');
    expect(classify(new BrokenCircuitError())).toBe('dependency');
    expect(classify(new BulkheadRejectedError(1, 0))).toBe('dependency');
    expect(classify(new ConfigurationError('x', []))).toBe('configuration');
    expect(classify(new IdempotencyConflictError('in_flight'))).toBe('invalid_state');
    expect(classify(new RetryExhaustedError(3, withCode('ECONNRESET')))).toBe('network');
    const txFailed = new ResilienceError('transaction_failed', 'tx', { cause: withCode('ECONNRESET') });
    expect(classify(txFailed)).toBe('network');
  });

  it('places every own code the error handler answers 503 for as a dependency failure, as the HTTP status table does', () => {
    for (const code of ['store_unavailable', 'store_full', 'record_failed'] as const) {
      expect(classify(new ResilienceError(code, code))).toBe('dependency');
      expect(isTransient(new ResilienceError(code, code))).toBe(false);
    }
  });

  it('sorts syntax and type errors as validation, and falls back to the message', () => {
    expect(classify(new SyntaxError('Unexpected token'))).toBe('validation');
    expect(classify(new Error('request timed out'))).toBe('timeout');
    expect(classify(new Error('Too Many Requests'))).toBe('rate_limit');
    expect(classify(new Error('socket hang up'))).toBe('network');
    expect(classify(new Error('Unauthorized'))).toBe('auth');
    expect(classify(new Error('boom'))).toBe('unknown');
    expect(classify('a string')).toBe('unknown');
    expect(classify(null)).toBe('unknown');
  });
});

describe('isTransient', () => {
  it('is true for network, timeout, rate limit and 5xx', () => {
    expect(isTransient(withCode('ECONNRESET'))).toBe(true);
    expect(isTransient(withCode('ETIMEDOUT'))).toBe(true);
    expect(isTransient(withStatus(429))).toBe(true);
    expect(isTransient(withStatus(500))).toBe(true);
    expect(isTransient(withStatus(503))).toBe(true);
    expect(isTransient(new TimeoutError(10))).toBe(true);
  });

  it('is false for client errors, validation, configuration, cancellation and unknown errors', () => {
    for (const status of [400, 401, 403, 404, 422]) expect(isTransient(withStatus(status))).toBe(false);
    expect(isTransient(new SyntaxError('bad json'))).toBe(false);
    expect(isTransient(new ConfigurationError('x', []))).toBe(false);
    expect(isTransient(new BrokenCircuitError())).toBe(false);
    expect(isTransient(withCode('ERR_CANCELED'))).toBe(false);
    expect(isTransient(new Error('boom'))).toBe(false);
  });

  it('is false for the toolkit’s own rejections, whatever caused them', () => {
    const http503 = withStatus(503);
    expect(isTransient(new RateLimitExceededError(100))).toBe(false);
    expect(isTransient(new BulkheadRejectedError(1, 0))).toBe(false);
    expect(isTransient(new BrokenCircuitError('open', 10_000, 'circuit_open', { cause: http503 }))).toBe(false);
    expect(isTransient(new IsolatedCircuitError())).toBe(false);
  });

  it('lets an explicit retryable flag win', () => {
    expect(isTransient(Object.assign(new Error('boom'), { retryable: true }))).toBe(true);
    expect(isTransient(Object.assign(withStatus(503), { retryable: false }))).toBe(false);
  });
});

// What the common SDKs throw, as they throw it, and what it means. Every row of
// ERROR_MARKERS must be exercised by at least one of these.
const sdk = (message: string, fields: Record<string, unknown>) => Object.assign(new Error(message), fields);
const grpc = (code: number, name: string) =>
  sdk(`${code} ${name}: upstream says no`, { code, details: 'upstream says no', metadata: {} });
const SDK_ERRORS: [string, Error, ReturnType<typeof classify>, boolean][] = [
  ['Node ECONNRESET', sdk('socket hang up', { code: 'ECONNRESET' }), 'network', true],
  ['undici connect timeout', sdk('Connect Timeout Error', { code: 'UND_ERR_CONNECT_TIMEOUT' }), 'timeout', true],
  ['axios cancel', sdk('canceled', { code: 'ERR_CANCELED' }), 'cancelled', false],
  ['an AbortError', sdk('This operation was aborted', { name: 'AbortError' }), 'cancelled', false],
  ['AbortSignal.timeout()', sdk('The operation timed out', { name: 'TimeoutError' }), 'timeout', true],
  ['pg 40001', sdk('could not serialize access due to concurrent update', { code: '40001' }), 'invalid_state', true],
  ['pg 40P01', sdk('deadlock detected', { code: '40P01', severity: 'ERROR' }), 'invalid_state', true],
  ['pg 55P03', sdk('could not obtain lock on row in relation "jobs"', { code: '55P03' }), 'timeout', true],
  [
    'Node HPE_HEADER_OVERFLOW',
    sdk('Parse Error: Header overflow', { code: 'HPE_HEADER_OVERFLOW' }),
    'validation',
    false,
  ],
  [
    'Node HPE_INVALID_CONSTANT',
    sdk('Parse Error: Expected HTTP/', { code: 'HPE_INVALID_CONSTANT' }),
    'dependency',
    false,
  ],
  ['pg 08006', sdk('connection failure', { code: '08006' }), 'network', true],
  ['pg 28P01', sdk('password authentication failed for user "app"', { code: '28P01' }), 'auth', false],
  ['pg 57P01', sdk('terminating connection due to administrator command', { code: '57P01' }), 'network', true],
  [
    'mysql2 ER_LOCK_DEADLOCK',
    sdk('Deadlock found when trying to get lock; try restarting transaction', {
      code: 'ER_LOCK_DEADLOCK',
      errno: 1213,
      sqlState: '40001',
    }),
    'invalid_state',
    true,
  ],
  [
    'mysql2 ER_LOCK_WAIT_TIMEOUT',
    sdk('Lock wait timeout exceeded; try restarting transaction', { code: 'ER_LOCK_WAIT_TIMEOUT', errno: 1205 }),
    'timeout',
    true,
  ],
  ['SQLite SQLITE_BUSY', sdk('database is locked', { code: 'SQLITE_BUSY' }), 'timeout', true],
  ['SQLite SQLITE_BUSY_SNAPSHOT', sdk('database is locked', { code: 'SQLITE_BUSY_SNAPSHOT' }), 'timeout', true],
  ['SQLite SQLITE_LOCKED', sdk('database table is locked', { code: 'SQLITE_LOCKED' }), 'invalid_state', true],
  ['gRPC 1 CANCELLED', grpc(1, 'CANCELLED'), 'cancelled', false],
  ['gRPC 3 INVALID_ARGUMENT', grpc(3, 'INVALID_ARGUMENT'), 'validation', false],
  ['gRPC 4 DEADLINE_EXCEEDED', grpc(4, 'DEADLINE_EXCEEDED'), 'timeout', true],
  ['gRPC 7 PERMISSION_DENIED', grpc(7, 'PERMISSION_DENIED'), 'auth', false],
  ['gRPC 8 RESOURCE_EXHAUSTED', grpc(8, 'RESOURCE_EXHAUSTED'), 'rate_limit', true],
  ['gRPC 14 UNAVAILABLE', grpc(14, 'UNAVAILABLE'), 'dependency', true],
  ['gRPC 16 UNAUTHENTICATED', grpc(16, 'UNAUTHENTICATED'), 'auth', false],
  [
    'AWS ThrottlingException (HTTP 400)',
    sdk('Rate exceeded', { name: 'ThrottlingException', $fault: 'client', $metadata: { httpStatusCode: 400 } }),
    'rate_limit',
    true,
  ],
  [
    'AWS $retryable.throttling',
    sdk('Throughput exceeds the current capacity', {
      name: 'ThroughputExceeded',
      $retryable: { throttling: true },
      $metadata: { httpStatusCode: 400 },
    }),
    'rate_limit',
    true,
  ],
  [
    'AWS $retryable',
    sdk('Transaction is ongoing', { name: 'TransactionConflict', $retryable: {}, $metadata: { httpStatusCode: 400 } }),
    'dependency',
    true,
  ],
  [
    'AWS $metadata.httpStatusCode 503',
    sdk('Service unavailable', { name: 'ServiceUnavailable', $fault: 'server', $metadata: { httpStatusCode: 503 } }),
    'dependency',
    true,
  ],
  [
    'AWS $metadata.httpStatusCode 429',
    sdk('Too many', { name: 'LimitExceeded', $metadata: { httpStatusCode: 429 } }),
    'rate_limit',
    true,
  ],
  [
    'AWS $metadata.httpStatusCode 404',
    sdk('No such key', { name: 'NoSuchKey', $metadata: { httpStatusCode: 404 } }),
    'validation',
    false,
  ],
];

describe('classify and isTransient on common SDK errors', () => {
  it.each(SDK_ERRORS)('%s', (_source, error, category, transient) => {
    expect(classify(error)).toBe(category);
    expect(isTransient(error)).toBe(transient);
  });

  it('exercises every row of the marker table', () => {
    const unexercised = ERROR_MARKERS.filter((m) => !SDK_ERRORS.some(([, error]) => markerOf(error as never) === m));
    expect(unexercised.map(([field, pattern]) => `${field} ${pattern}`)).toEqual([]);
  });

  it('classifies the same when passed to Array.map (no hidden depth parameter)', () => {
    const wrapped = new RetryExhaustedError(3, sdk('reset', { code: 'ECONNRESET' }));
    expect(Array.from({ length: 8 }, () => wrapped).map(classify)).toEqual(Array(8).fill('network'));
  });

  it('does not mistake a numeric code without gRPC’s details for a gRPC status', () => {
    expect(classify(sdk('whatever', { code: 14 }))).toBe('unknown');
  });
});

describe('tRPC client errors', () => {
  /** A TRPCClientError as tRPC's HTTP links build it: the server's shape in `data`, the HTTP response in `meta`. */
  const trpc = (httpStatus: number | undefined, responseStatus: number) =>
    Object.assign(new Error('from the server'), {
      name: 'TRPCClientError',
      data: httpStatus === undefined ? null : { code: 'X', httpStatus },
      meta: { response: { status: responseStatus, headers: new Headers() } },
    });

  it('read their status from the shape’s data.httpStatus, else from the HTTP response', () => {
    expect(statusOf(trpc(503, 207))).toBe(503); // one failure in a mixed batch: the response says 207
    expect(statusOf(trpc(undefined, 429))).toBe(429); // an error formatter that drops data
    expect(statusOf(trpc(undefined, 207))).toBeUndefined(); // a batch status says nothing of one call
  });

  it('are classified by that status', () => {
    expect([classify(trpc(503, 503)), isTransient(trpc(503, 503))]).toEqual(['dependency', true]);
    expect([classify(trpc(429, 429)), isTransient(trpc(429, 429))]).toEqual(['rate_limit', true]);
    expect([classify(trpc(400, 400)), isTransient(trpc(400, 400))]).toEqual(['validation', false]);
  });
});
