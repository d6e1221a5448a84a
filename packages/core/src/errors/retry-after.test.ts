import { describe, expect, it } from 'vitest';
import { RateLimitExceededError } from './errors.js';
import { httpDateMs, parseRetryAfter, retryAfterMs } from './retry-after.js';

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

  it('reads no impossible HTTP-date (31 Feb, hour 24, a day-name not the date’s), and an rfc850 year as at most 50 years ahead', () => {
    const read: [string, number | undefined][] = [
      ['Sun, 31 Feb 2027 00:00:00 GMT', undefined], // Date.parse: 3 Mar 2027
      ['Tue Feb 30 12:00:30 2027', undefined],
      ['Tue, 24 Nov 2026 24:00:00 GMT', undefined], // Date.parse: midnight after
      ['Tue, 24 Nov 2026 12:60:00 GMT', undefined],
      ['Tue, 24 Nov 2026 12:00:61 GMT', undefined],
      ['Mon, 24 Nov 2026 12:00:30 GMT', undefined], // 24 Nov 2026 is a Tuesday
      ['Tue, 24-Nov-26 12:00:30 GMT', undefined], // rfc850-date spells its day-name out
      ['Tuesday, 24 Nov 2026 12:00:30 GMT', undefined],
      ['Tue, 24 nov 2026 12:00:30 GMT', undefined], // HTTP-date is case-sensitive
      ['Tue Nov  3 12:00:30 2026', 0], // asctime's day: a space and one digit
      ['Wed Nov  3 12:00:30 2026', undefined],
      ['Wed Nov 25 12:00:30 2026', 86_430_000],
      ['Wed Nov 25 12:00:30 2026 GMT', undefined],
      // RFC 9110 §5.6.7: a two-digit year more than 50 years ahead is the century before
      ['Wednesday, 24-Nov-60 12:00:30 GMT', Date.parse('2060-11-24T12:00:30Z') - NOW], // Date.parse: 1960
      ['Tuesday, 24-Nov-76 12:00:00 GMT', Date.parse('2076-11-24T12:00:00Z') - NOW], // 50 years ahead, not more
      ['Tuesday, 24-Nov-76 12:00:01 GMT', undefined], // 1976: a Wednesday
      ['Wednesday, 24-Nov-76 12:00:01 GMT', 0],
    ];
    for (const [value, ms] of read) expect(parseRetryAfter(value, NOW), value).toBe(ms);
    expect(httpDateMs('Wednesday, 24-Nov-76 12:00:01 GMT', NOW)).toBe(Date.parse('1976-11-24T12:00:01Z'));
    expect(httpDateMs('Thu, 29 Feb 2024 00:00:00 GMT', NOW)).toBe(Date.parse('2024-02-29T00:00:00Z'));
    expect(httpDateMs('Sun, 06 Nov 1994 08:49:37 GMT', NOW, true)).toBe(784111777000);
    expect(httpDateMs('Sunday, 06-Nov-94 08:49:37 GMT', NOW, true)).toBeUndefined(); // a sender writes IMF-fixdate only
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
