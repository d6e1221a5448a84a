import { describe, expect, it } from 'vitest';
import { isTransient } from '../errors/classify.js';
import { BrokenCircuitError, RateLimitExceededError, ThrottledError, TimeoutError } from '../errors/errors.js';
import {
  hostKeyOf,
  IDEMPOTENT_METHODS,
  isIdempotentRequest,
  isRetryableFailure,
  isRetryableStatus,
  RETRYABLE_STATUSES,
} from './decisions.js';
import { HttpStatusError } from './http-status-error.js';

const status = (s: number, extra: object = {}) => Object.assign(new HttpStatusError(s, undefined, null), extra);

describe('what a client retries', () => {
  it('retries the statuses of its own table: 408, 425, 429, 500, 502, 503, 504', () => {
    expect(RETRYABLE_STATUSES).toEqual([408, 425, 429, 500, 502, 503, 504]);
    const all = Array.from({ length: 500 }, (_, i) => i + 100);
    expect(all.filter(isRetryableStatus)).toEqual(RETRYABLE_STATUSES);
    expect(all.filter((s) => isRetryableFailure(status(s)))).toEqual(RETRYABLE_STATUSES);
  });

  it('retries a 425 Too Early, which isTransient calls permanent elsewhere', () => {
    expect(isRetryableFailure(status(425))).toBe(true);
    expect(isRetryableFailure({ response: { status: 425 } })).toBe(true); // axios' shape
  });

  it('does not retry 501 or 505, nor a spent quota, nor an error that says it is not retryable', () => {
    expect(isRetryableFailure(status(501))).toBe(false);
    expect(isRetryableFailure(status(505))).toBe(false);
    // Core's retry (isTransient) takes every 5xx: the client's table is the narrower one.
    expect([501, 505, 507].map((s) => isTransient(status(s)))).toEqual([true, true, true]);
    expect(isRetryableFailure(status(429, { code: 'insufficient_quota' }))).toBe(false);
    expect(isRetryableFailure(status(503, { retryable: false }))).toBe(false);
    expect(isRetryableFailure(status(400, { retryable: true }))).toBe(true);
  });

  it('retries network errors and timeouts, never the toolkit’s own refusals', () => {
    expect(isRetryableFailure(new TypeError('fetch failed', { cause: { code: 'ECONNRESET' } }))).toBe(true);
    expect(isRetryableFailure(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }))).toBe(true);
    expect(isRetryableFailure(new TimeoutError(100))).toBe(true);
    expect(isRetryableFailure(new BrokenCircuitError('open', 10))).toBe(false);
    expect(isRetryableFailure(new ThrottledError(0.5))).toBe(false);
    expect(isRetryableFailure(new RateLimitExceededError(10))).toBe(false);
    expect(isRetryableFailure(new Error('unknown'))).toBe(false);
    expect(isRetryableFailure(null)).toBe(false);
  });

  it('reads an error that carries a 2xx or 3xx answer as isTransient does: it failed after the status line', () => {
    // axios' http adapter: a 200 whose body broke off, the response attached to the error
    const cut = Object.assign(new Error('aborted'), { code: 'ECONNRESET', response: { status: 200 } });
    expect(isRetryableFailure(cut)).toBe(true);
    expect(isRetryableFailure(Object.assign(new Error('too big'), { response: { status: 200 } }))).toBe(false);
    expect(isRetryableFailure(Object.assign(new Error('x'), { code: 'ETIMEDOUT', status: 304 }))).toBe(true);
  });
});

describe('what is safe to repeat', () => {
  it('the idempotent methods of RFC 9110, in any case', () => {
    expect([...IDEMPOTENT_METHODS]).toEqual(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);
    for (const m of ['get', 'HEAD', 'options', 'PUT', 'delete']) expect(isIdempotentRequest(m, undefined)).toBe(true);
    for (const m of ['POST', 'patch', 'CONNECT']) expect(isIdempotentRequest(m, null)).toBe(false);
  });

  it('any request that carries an Idempotency-Key', () => {
    expect(isIdempotentRequest('POST', '"k-1"')).toBe(true);
    expect(isIdempotentRequest('POST', '')).toBe(false);
  });
});

describe('hostKeyOf', () => {
  it.each([
    ['https://api.openai.com/v1/chat/completions', 'api.openai.com'],
    ['https://API.Example.com:443/v1', 'api.example.com'],
    ['http://example.com:80', 'example.com'],
    ['http://example.com:8080/x?y#z', 'example.com:8080'],
    ['https://user:secret@example.com/path', 'example.com'],
    ['https://example.com?q=a@b', 'example.com'],
    ['http://127.0.0.1:3000/', '127.0.0.1:3000'],
    ['http://[::1]:3000/', '[::1]:3000'],
    ['/relative/path', ''],
    ['/login?next=http://evil.test/', ''],
  ])('%s → %s', (url, host) => {
    expect(hostKeyOf(url)).toBe(host);
    if (host !== '') expect(hostKeyOf(new URL(url))).toBe(host);
  });

  // Each spelling reaches the host the URL parser names, so it must not get policies (a
  // breaker, a budget, a rate limit) of its own: a caller could dodge a host's quota by respelling it.
  it.each([
    ['http://ev\til.com/', 'evil.com'],
    ['http://%61pi.example.com/', 'api.example.com'],
    ['http://ÉXAMPLE.com/', 'xn--xample-9ua.com'],
    ['http://2130706433/', '127.0.0.1'],
    ['http://0x7f.1/', '127.0.0.1'],
    ['http://127.1:3000/', '127.0.0.1:3000'],
    ['http://example.com:080/', 'example.com'],
    ['http://example.com:0443/', 'example.com:443'],
    ['http://example.com:/x', 'example.com'],
    [' http://example.com:80/', 'example.com'],
    ['http://[0:0::1]:3000/', '[::1]:3000'],
    ['http:example.com/x', 'example.com'],
    ['http:/example.com:8080/', 'example.com:8080'],
    ['HTTPS:\\\\Example.com:443/', 'example.com'],
  ])('%s → %s, as the URL parser reads it', (url, host) => {
    expect(new URL(url).host).toBe(host);
    expect(hostKeyOf(url)).toBe(host);
  });

  // The parser keeps a fully qualified name's final dot, which names the same host in DNS.
  it.each([
    ['https://api.example.com./v1', 'api.example.com'],
    ['HTTPS://API.EXAMPLE.COM.:443/', 'api.example.com'],
    ['http://example.com.:8080/x', 'example.com:8080'],
    ['http://127.0.0.1.:3000/', '127.0.0.1:3000'],
  ])('%s → %s: a final dot is the same host', (url, host) => {
    expect(hostKeyOf(url)).toBe(host);
    expect(hostKeyOf(new URL(url))).toBe(host);
  });
});
