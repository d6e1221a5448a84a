import { describe, expect, it } from 'vitest';
import { RateLimitExceededError } from './errors.js';
import { parseRetryAfter, retryAfterMs } from './retry-after.js';

const NOW = Date.parse('2026-11-24T12:00:00Z');

describe('Retry-After', () => {
  it('parses delay-seconds and HTTP dates relative to now', () => {
    expect(parseRetryAfter('120', NOW)).toBe(120_000);
    expect(parseRetryAfter(' 3 ', NOW)).toBe(3_000);
    expect(parseRetryAfter('Tue, 24 Nov 2026 12:00:30 GMT', NOW)).toBe(30_000);
    expect(parseRetryAfter('Tue, 24 Nov 2026 11:00:00 GMT', NOW)).toBe(0);
    expect(parseRetryAfter('soon', NOW)).toBeUndefined();
    expect(parseRetryAfter('-5', NOW)).toBeUndefined();
    expect(parseRetryAfter(undefined, NOW)).toBeUndefined();
  });

  it('reads what servers send besides: a fraction, several values, every HTTP-date form as GMT, and no guessed dates', () => {
    const read: [string, number | undefined][] = [
      ['1.5', 1_500],
      ['2, 3', 2_000],
      ['Tue, 24 Nov 2026 12:00:30 GMT, Tue, 24 Nov 2026 12:00:40 GMT', 30_000],
      ['Tuesday, 24-Nov-26 12:00:30 GMT', 30_000],
      ['Tue Nov 24 12:00:30 2026', 30_000], // asctime-date: no zone, GMT
      ['foo 2030', undefined], // Date.parse reads a year in it
      // Only the three HTTP-date forms: a date without its zone would be read in the local one,
      // and words around a time of day would be read as some date.
      ['Tue, 24 Nov 2026 12:00:30', undefined],
      ['foo 1:00:00 2030', undefined],
      ['Tue, 24 Nov 2026 12:00:30 GMT junk', undefined],
      ['1e3', undefined],
    ];
    for (const [value, ms] of read) expect(parseRetryAfter(value, NOW), value).toBe(ms);
    expect(parseRetryAfter('99999999999999999999', NOW)).toBeGreaterThan(60_000); // beyond any cap: the retry gives up
  });

  it('finds the header on the error, on an axios response and on fetch Headers', () => {
    expect(retryAfterMs({ headers: { 'retry-after': '2' } }, NOW)).toBe(2_000);
    expect(retryAfterMs({ response: { status: 429, headers: { 'retry-after': '5' } } }, NOW)).toBe(5_000);
    const headers = new Headers({ 'Retry-After': '7' });
    expect(retryAfterMs({ response: { headers } }, NOW)).toBe(7_000);
  });

  it('reads retry-after-ms (OpenAI, Anthropic, Azure) before Retry-After, in milliseconds', () => {
    const headers = new Headers({ 'retry-after-ms': '1500.5', 'retry-after': '2' });
    expect(retryAfterMs({ response: { headers } }, 0)).toBe(1500.5);
    expect(retryAfterMs({ response: { headers: { 'retry-after-ms': '250' } } }, 0)).toBe(250);
    expect(retryAfterMs({ headers: { 'retry-after-ms': ['40'] } }, 0)).toBe(40);
    // Sent twice, joined by fetch's Headers: the first, as for Retry-After
    const twice = new Headers([
      ['retry-after-ms', '250'],
      ['retry-after-ms', '250'],
      ['retry-after', '30'],
    ]);
    expect(retryAfterMs({ response: { headers: twice } }, 0)).toBe(250);
    // One that is no number of ms leaves Retry-After to say
    expect(retryAfterMs({ response: { headers: { 'retry-after-ms': 'soon', 'retry-after': '2' } } }, 0)).toBe(2_000);
    expect(retryAfterMs({ response: { headers: { 'Retry-After': '3' } } }, 0)).toBe(3_000);
  });

  it('prefers an error’s own retryAfterMs and looks through causes', () => {
    expect(retryAfterMs(new RateLimitExceededError(1_500), NOW)).toBe(1_500);
    expect(retryAfterMs(new Error('wrapped', { cause: { headers: { 'retry-after': '1' } } }), NOW)).toBe(1_000);
    expect(retryAfterMs(new Error('plain'), NOW)).toBeUndefined();
  });

  it('reads a tRPC client error: data.retryAfterMs, then the HTTP response’s header', () => {
    const response = { status: 429, headers: new Headers({ 'Retry-After': '3' }) };
    const error = (data: unknown) => Object.assign(new Error('TOO_MANY_REQUESTS'), { data, meta: { response } });
    expect(retryAfterMs(error({ code: 'TOO_MANY_REQUESTS', retryAfterMs: 2_500 }), NOW)).toBe(2_500);
    expect(retryAfterMs(error({ code: 'TOO_MANY_REQUESTS' }), NOW)).toBe(3_000);
    expect(retryAfterMs(error(null), NOW)).toBe(3_000);
  });
});
