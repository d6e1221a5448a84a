import { describe, expect, it } from 'vitest';
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
} from '../errors/errors.js';
import { errorResponse, httpErrorStatus } from './error-response.js';
import { HTTP_DEFAULTS } from './options.js';
import { PROBLEM_JSON_CONTENT_TYPE, PROBLEM_TYPES } from './problem.js';

const named = (name: string, extra: Record<string, unknown> = {}) =>
  Object.assign(Object.assign(new Error(`${name} happened`), { name }), extra);
const aborted = () => {
  const e = new Error('The operation was aborted');
  e.name = 'AbortError';
  return e;
};

describe('httpErrorStatus', () => {
  it.each([
    [
      'an open breaker: 503 with the time until its probe',
      new BrokenCircuitError('open', 4_200),
      503,
      'dependency',
      4_200,
    ],
    ['a breaker isolated by hand: 503 without a Retry-After', new IsolatedCircuitError(), 503, 'dependency', undefined],
    ['a rate limit: 429', new RateLimitExceededError(1_500), 429, 'rate_limit', 1_500],
    ['a full bulkhead or load shedder: 503', new BulkheadRejectedError(4, 0, 1_000), 503, 'dependency', 1_000],
    ['a request timeout: 503', new RequestTimeoutError(30_000), 503, 'timeout', undefined],
    ['an upstream timeout: 504', new TimeoutError(2_000), 504, 'timeout', undefined],
    [
      'retries exhausted on an upstream timeout: 504',
      new RetryExhaustedError(3, new TimeoutError(10)),
      504,
      'timeout',
      undefined,
    ],
    [
      'an unavailable store: 503',
      new ResilienceError('store_unavailable' as never, 'redis down'),
      503,
      'dependency',
      undefined,
    ],
    ['a key in flight: 409', new IdempotencyConflictError('in_flight'), 409, 'invalid_state', undefined],
    [
      'a key reused with another payload: 422',
      new IdempotencyConflictError('fingerprint_mismatch'),
      422,
      'validation',
      undefined,
    ],
    ['bad options: 500', new ConfigurationError('x', []), 500, 'configuration', undefined],
    [
      'a status the error sets itself (http-errors): that status',
      named('NotFoundError', { status: 404 }),
      404,
      'validation',
      undefined,
    ],
    ['an SDK error with its own 401', named('AuthenticationError', { status: 401 }), 401, 'auth', undefined],
    ['an auth failure without a status: 401', named('UnauthorizedError'), 401, 'auth', undefined],
    ['a body that parses but is invalid: 422', named('ZodError', { issues: [] }), 422, 'validation', undefined],
    ['a validation error by name: 422', named('ValidationError'), 422, 'validation', undefined],
    ['a body that does not parse: 400', named('SyntaxError'), 400, 'validation', undefined],
    ['a conflict: 409', named('Conflict', { statusCode: 409 }), 409, 'invalid_state', undefined],
    [
      'a 500 the error sets itself: this server’s own failure',
      named('InternalServerError', { status: 500 }),
      500,
      'unknown',
      undefined,
    ],
    ['a 503 the error sets itself', named('ServiceUnavailableError', { status: 503 }), 503, 'dependency', undefined],
    [
      'an upstream answer of 503 (axios): 502',
      Object.assign(new Error('upstream'), { response: { status: 503 } }),
      502,
      'dependency',
      undefined,
    ],
    [
      // axios ≥ 1.7 copies the upstream's status onto the error itself.
      "an upstream's 401 (axios ≥ 1.7: status on the error too): 502, not the provider's 401",
      Object.assign(new Error('Request failed with status code 401'), {
        isAxiosError: true,
        status: 401,
        response: { status: 401 },
      }),
      502,
      'auth',
      undefined,
    ],
    [
      "an upstream's 503 with the status on the error and its response: 502",
      Object.assign(new Error('upstream'), { status: 503, response: { status: 503 } }),
      502,
      'dependency',
      undefined,
    ],
    [
      "an axios error's status without a response (a copy of it): 502",
      Object.assign(new Error('upstream'), { isAxiosError: true, status: 429 }),
      502,
      'rate_limit',
      undefined,
    ],
    [
      'an unreachable upstream: 502',
      Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }),
      502,
      'network',
      undefined,
    ],
    [
      "a driver's auth failure (PostgreSQL 28P01, our database password): 502, not the client's 401",
      Object.assign(new Error('password authentication failed for user "app"'), { code: '28P01' }),
      502,
      'auth',
      undefined,
    ],
    [
      "a gRPC dependency's UNAUTHENTICATED: 502",
      Object.assign(new Error('16 UNAUTHENTICATED'), { code: 16, details: '' }),
      502,
      'auth',
      undefined,
    ],
    [
      "a gRPC dependency's RESOURCE_EXHAUSTED (its quota): 502, not the client's 429",
      Object.assign(new Error('8 RESOURCE_EXHAUSTED'), { code: 8, details: '' }),
      502,
      'rate_limit',
      undefined,
    ],
    [
      'an AWS SDK error (how AWS answered this server, $metadata): 502, not its 400',
      Object.assign(new Error('The security token included in the request is expired'), {
        name: 'ExpiredTokenException',
        $metadata: { httpStatusCode: 400 },
      }),
      502,
      'validation',
      undefined,
    ],
    [
      'an auth error of the app itself, by its name (no code, no status): 401',
      Object.assign(new Error('no access to this order'), { name: 'ForbiddenError' }),
      401,
      'auth',
      undefined,
    ],
    [
      "a plain Error whose message quotes the client's text ('forbidden'): 500, recorded, not an unrecorded 401",
      new Error('user input: forbidden'),
      500,
      'unknown',
      undefined,
    ],
    [
      "a plain Error whose message quotes the client's text ('timed out'): 500, not a 504 a client would retry",
      new Error('no such sku: timed out'),
      500,
      'unknown',
      undefined,
    ],
    [
      "a provider's quota named only by its SDK's message (no code, no status): 500, not the client's 429",
      new Error('Rate limit reached for gpt-4o in organization org-1'),
      500,
      'unknown',
      undefined,
    ],
    [
      "an error wrapping a provider's 401 (its cause): 502, not the client's 401, which would log its user out",
      new Error('charge failed', { cause: Object.assign(new Error('Unauthorized'), { response: { status: 401 } }) }),
      502,
      'auth',
      undefined,
    ],
    [
      "an error wrapping an error that wraps a provider's 404: 502, not the client's 400",
      new Error('sync failed', {
        cause: new Error('fetch order', {
          cause: Object.assign(new Error('Not Found'), { response: { status: 404 } }),
        }),
      }),
      502,
      'validation',
      undefined,
    ],
    [
      "an error of its own status wrapping a provider's answer keeps its status: the app decided it",
      Object.assign(
        new Error('no such order', { cause: Object.assign(new Error('x'), { response: { status: 500 } }) }),
        {
          status: 404,
        },
      ),
      404,
      'validation',
      undefined,
    ],
    [
      "an error wrapping a provider's 429 (its cause): 502, not the client's 429",
      new Error('charge failed', {
        cause: Object.assign(new Error('Too Many Requests'), { response: { status: 429 } }),
      }),
      502,
      'rate_limit',
      undefined,
    ],
    [
      "a failure whose message quotes the client's text: 500, a server failure (recorded), not a 4xx that hides it",
      new Error('no such sku: rate limit'),
      500,
      'unknown',
      undefined,
    ],
    [
      "undici's ResponseStatusCodeError (the upstream's status on the error itself): 502",
      Object.assign(new Error('Response status code 401: Unauthorized'), {
        code: 'UND_ERR_RESPONSE_STATUS_CODE',
        status: 401,
        statusCode: 401,
        headers: { 'www-authenticate': 'Basic realm="payments-admin"' },
      }),
      502,
      'auth',
      undefined,
    ],
    ['a client that went away: 499, for the record', aborted(), 499, 'cancelled', undefined],
    ['a bug (TypeError): 500, not a client error', new TypeError('x is not a function'), 500, 'unknown', undefined],
    [
      "an unreachable upstream through fetch (TypeError: fetch failed, caused by ECONNREFUSED): 502, not a bug's 500",
      new TypeError('fetch failed', { cause: named('Error', { code: 'ECONNREFUSED' }) }),
      502,
      'network',
      undefined,
    ],
    [
      "fetch's connect timeout (TypeError: fetch failed, caused by UND_ERR_CONNECT_TIMEOUT): 504",
      new TypeError('fetch failed', { cause: named('ConnectTimeoutError', { code: 'UND_ERR_CONNECT_TIMEOUT' }) }),
      504,
      'timeout',
      undefined,
    ],
    [
      "an upstream answering no HTTP through fetch (caused by llhttp's HPE_*): 502",
      new TypeError('fetch failed', { cause: named('Error', { code: 'HPE_INVALID_CONSTANT' }) }),
      502,
      'dependency',
      undefined,
    ],
    [
      "a request fetch's own rules refuse (bad port): this server's bug, 500",
      new TypeError('fetch failed', { cause: new Error('bad port') }),
      500,
      'unknown',
      undefined,
    ],
    ['anything else: 500', new Error('boom'), 500, 'unknown', undefined],
    ['a thrown string: 500', 'oops', 500, 'unknown', undefined],
  ])('%s', (_, error, status, category, retryAfterMs) => {
    const s = httpErrorStatus(error);
    expect([s.status, s.category, s.retryAfterMs]).toEqual([status, category, retryAfterMs]);
  });

  it('names the problem type: the draft types for shedding and quotas, one stable type per category otherwise', () => {
    expect(httpErrorStatus(new RateLimitExceededError(1)).type).toBe(
      'https://iana.org/assignments/http-problem-types#quota-exceeded',
    );
    expect(httpErrorStatus(new BulkheadRejectedError(1, 0)).type).toBe(
      'https://iana.org/assignments/http-problem-types#temporary-reduced-capacity',
    );
    expect(httpErrorStatus(new TimeoutError(1)).type).toBe(PROBLEM_TYPES.timeout);
    expect(httpErrorStatus(new RequestTimeoutError(1)).type).toBe(PROBLEM_TYPES.timeout);
    expect(httpErrorStatus(new Error('x')).type).toBe(PROBLEM_TYPES.unknown);
    expect(new Set(Object.values(PROBLEM_TYPES)).size).toBe(Object.keys(PROBLEM_TYPES).length);
  });

  it('never throws, whatever was thrown', () => {
    const hostile = new Proxy(
      {},
      {
        get() {
          throw new Error('trap');
        },
        has() {
          throw new Error('trap');
        },
      },
    );
    expect(httpErrorStatus(hostile)).toMatchObject({ status: 500, category: 'unknown' });
    expect(httpErrorStatus(Object.create(null))).toMatchObject({ status: 500 });
    expect(httpErrorStatus(named('X', { status: 200 })).status).toBe(500); // not an error status
  });
});

describe('errorResponse', () => {
  it('is application/problem+json with type, title, status, category, code and correlation id, and no internals', () => {
    const r = errorResponse(new TimeoutError(2_000), { correlationId: 'req-1' });
    expect(r).toEqual({
      status: 504,
      headers: { 'content-type': PROBLEM_JSON_CONTENT_TYPE, 'x-request-id': 'req-1' },
      body: {
        type: PROBLEM_TYPES.timeout,
        title: 'Timeout',
        status: 504,
        category: 'timeout',
        code: 'timeout',
        correlationId: 'req-1',
      },
    });
    const secret = errorResponse(new Error('password=hunter2 at db.internal:5432'));
    expect(JSON.stringify(secret)).not.toMatch(/hunter2|db\.internal|at /);
  });

  it('tells a request timeout from an upstream one by code as well as status', () => {
    expect(errorResponse(new RequestTimeoutError(5)).body).toMatchObject({ status: 503, code: 'request_timeout' });
    expect(errorResponse(new TimeoutError(5)).body).toMatchObject({ status: 504, code: 'timeout' });
  });

  it('adds Retry-After in whole seconds, rounded up, when a retry time is known', () => {
    expect(errorResponse(new BrokenCircuitError('open', 4_200)).headers['retry-after']).toBe('5');
    expect(errorResponse(new BulkheadRejectedError(1, 0, 1_000)).headers['retry-after']).toBe('1');
    expect(errorResponse(new RateLimitExceededError(0)).headers['retry-after']).toBe('0');
    expect(errorResponse(new IsolatedCircuitError()).headers['retry-after']).toBeUndefined();
  });

  it('shows the message and stack only with expose', () => {
    const error = new Error('upstream said no');
    const shown = errorResponse(error, { expose: true }).body;
    expect(shown.detail).toBe('upstream said no');
    expect(shown.stack).toBe(error.stack);
    expect(errorResponse(error).body).not.toHaveProperty('detail');
    expect(errorResponse(error).body).not.toHaveProperty('stack');
  });

  it('answers a plain status the way an adapter needs for its own refusals (404, 401, 403)', () => {
    expect(errorResponse({ status: 404 }, { correlationId: 'c' }).body).toEqual({
      type: PROBLEM_TYPES.not_found,
      title: 'Not found',
      status: 404,
      category: 'validation',
      correlationId: 'c',
    });
    expect(errorResponse({ status: 403 }).body).toMatchObject({
      type: PROBLEM_TYPES.auth,
      status: 403,
      category: 'auth',
    });
    expect(errorResponse({ status: 401 }).body).toMatchObject({ type: PROBLEM_TYPES.auth, status: 401 });
  });

  it("challenges every 401 with WWW-Authenticate (RFC 9110): the error's own, else options.challenge, else Bearer", () => {
    const auth = named('AuthenticationError');
    expect(errorResponse(auth).status).toBe(401);
    expect(errorResponse(auth).headers['www-authenticate']).toBe(HTTP_DEFAULTS.challenge);
    expect(errorResponse({ status: 401 }, { challenge: 'Basic realm="ops"' }).headers['www-authenticate']).toBe(
      'Basic realm="ops"',
    );
    const own = { status: 401, headers: { 'WWW-Authenticate': 'Negotiate' } };
    expect(errorResponse(own, { challenge: 'Basic' }).headers['www-authenticate']).toBe('Negotiate');
    expect(errorResponse({ status: 403 }).headers['www-authenticate']).toBeUndefined();
  });

  it("keeps the error's own headers that say how to retry or what is allowed (http-errors `headers`: Allow on a 405, Retry-After), never its others", () => {
    const notAllowed = { status: 405, headers: { Allow: 'GET, HEAD', 'Set-Cookie': 'sid=1', 'X-Upstream-Id': 'u-7' } };
    const r = errorResponse(notAllowed, { correlationId: 'c' });
    expect(r.headers).toEqual({ 'content-type': PROBLEM_JSON_CONTENT_TYPE, 'x-request-id': 'c', allow: 'GET, HEAD' });
    expect(errorResponse({ status: 503, headers: { 'retry-after': 120 } }).headers['retry-after']).toBe('120');
    const date = 'Wed, 21 Oct 2015 07:28:00 GMT';
    expect(errorResponse({ status: 503, headers: { 'Retry-After': date } }).headers['retry-after']).toBe(date);
    // Never what a client cannot read as a wait: a negative, a fraction, a word, a number past 15 digits.
    // Nor a date that does not exist (31 Feb, hour 24, a wrong day-name) or a form senders may not write.
    const dates = ['Sat, 31 Feb 2026 00:00:00 GMT', 'Wed, 21 Oct 2015 24:00:00 GMT', 'Mon, 21 Oct 2015 07:28:00 GMT'];
    for (const v of ['-3', '1.5', 'soon', '1e3', '9'.repeat(16), ...dates, 'Wednesday, 21-Oct-15 07:28:00 GMT']) {
      expect(errorResponse({ status: 503, headers: { 'Retry-After': v } }).headers['retry-after'], v).toBeUndefined();
    }
    expect(errorResponse({ status: 413, headers: { connection: 'close' } }).headers.connection).toBe('close');
    // Only that it closes: any other Connection (keep-alive, an Upgrade) would keep open one the server closes.
    for (const connection of ['keep-alive', 'keep-alive, Upgrade', 'Upgrade', 'close, te']) {
      expect(errorResponse({ status: 400, headers: { connection } }).headers.connection).toBeUndefined();
    }
    expect(errorResponse({ status: 400, headers: { Connection: 'Close' } }).headers.connection).toBe('Close');
    // The toolkit's own Retry-After, content type and correlation id win over the error's.
    const limited = Object.assign(new RateLimitExceededError(3_000), {
      headers: { 'retry-after': '1', 'content-type': 'text/html', 'x-request-id': 'forged' },
    });
    expect(errorResponse(limited, { correlationId: 'c' }).headers).toMatchObject({
      'retry-after': '3',
      'content-type': PROBLEM_JSON_CONTENT_TYPE,
      'x-request-id': 'c',
    });
    // A value a header cannot carry is dropped, not thrown at the adapter's setHeader.
    expect(errorResponse({ status: 405, headers: { allow: 'GET\r\nSet-Cookie: x=1' } }).headers).not.toHaveProperty(
      'allow',
    );
  });

  it('shows the message of an error that marks it safe for the client (http-errors `expose`, a 4xx), never a 5xx or a stack', () => {
    const told = Object.assign(new Error('name is required'), { status: 400, expose: true });
    expect(errorResponse(told).body.detail).toBe('name is required');
    expect(errorResponse(told).body).not.toHaveProperty('stack');
    expect(errorResponse(Object.assign(new Error('db-7 down'), { status: 503, expose: true })).body).not.toHaveProperty(
      'detail',
    );
    expect(errorResponse(Object.assign(new Error('secret'), { status: 400 })).body).not.toHaveProperty('detail');
  });

  it('survives JSON: the body is plain data', () => {
    const r = errorResponse(new BrokenCircuitError('open', 10, 'circuit_open', { cause: new Error('x') }), {
      correlationId: 'c',
      expose: true,
    });
    expect(JSON.parse(JSON.stringify(r.body))).toEqual(r.body);
  });
});

describe("an upstream's headers", () => {
  it('are not passed on: its WWW-Authenticate and Retry-After describe the provider, not this server', () => {
    const upstream = Object.assign(new Error('Response status code 429'), {
      code: 'UND_ERR_RESPONSE_STATUS_CODE',
      statusCode: 429,
      headers: { 'retry-after': '86400', 'www-authenticate': 'Basic realm="payments-admin"' },
    });
    const { status, headers } = errorResponse(upstream);
    expect(status).toBe(502);
    expect(headers['retry-after']).toBeUndefined();
    expect(headers['www-authenticate']).toBeUndefined();
  });
});
