import { describe, expect, it } from 'vitest';
import { classify, isTransient, statusOf } from './classify.js';
import {
  BrokenCircuitError,
  BulkheadRejectedError,
  ConfigurationError,
  IdempotencyConflictError,
  IsolatedCircuitError,
  RateLimitExceededError,
  ResilienceError,
  RetryExhaustedError,
  TimeoutError,
} from './errors.js';

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
  });

  it('sorts the toolkit’s own errors by code', () => {
    expect(classify(new TimeoutError(100))).toBe('timeout');
    expect(classify(new RateLimitExceededError(100))).toBe('rate_limit');
    expect(classify(new BrokenCircuitError())).toBe('dependency');
    expect(classify(new BulkheadRejectedError(1, 0))).toBe('dependency');
    expect(classify(new ConfigurationError('x', []))).toBe('configuration');
    expect(classify(new IdempotencyConflictError('in_flight'))).toBe('invalid_state');
    expect(classify(new RetryExhaustedError(3, withCode('ECONNRESET')))).toBe('network');
    const txFailed = new ResilienceError('transaction_failed', 'tx', { cause: withCode('ECONNRESET') });
    expect(classify(txFailed)).toBe('network');
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
