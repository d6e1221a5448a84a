import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { sequenceRandom } from '../clock/sequence-random.js';
import { isConfigurationError } from '../errors/errors.js';
import { backoff, type ExponentialOptions } from './backoff.js';

const schedule = (b: ReturnType<typeof backoff.exponential>, retries: number, random = () => 0.5) => {
  const delays: number[] = [];
  let previous = 0;
  for (let n = 1; n <= retries; n++) delays.push((previous = b.delay(n, previous, random)));
  return delays;
};

describe('backoff', () => {
  it('constant and linear schedules', () => {
    expect(schedule(backoff.constant(50), 3)).toEqual([50, 50, 50]);
    expect(schedule(backoff.linear(100, { maxMs: 250 }), 4)).toEqual([100, 200, 250, 250]);
  });

  it('exponential without jitter gives the 100, 200, 400 ms schedule capped at maxMs', () => {
    const b = backoff.exponential({ initialMs: 100, multiplier: 2, maxMs: 1_000 });
    expect(schedule(b, 6)).toEqual([100, 200, 400, 800, 1_000, 1_000]);
  });

  it('full, equal and decorrelated jitter follow their formulas', () => {
    const full = backoff.exponential({ initialMs: 100, maxMs: 10_000, jitter: 'full' });
    expect(full.delay(3, 0, sequenceRandom(0.25))).toBe(100);
    const equal = backoff.exponential({ initialMs: 100, maxMs: 10_000, jitter: 'equal' });
    expect(equal.delay(3, 0, sequenceRandom(0.5))).toBe(300);
    const decorrelated = backoff.exponential({ initialMs: 100, maxMs: 10_000, jitter: 'decorrelated' });
    expect(decorrelated.delay(2, 1_000, sequenceRandom(0.5))).toBe(100 + 0.5 * (3_000 - 100));
  });

  it('keeps every jitter mode within its bounds (10 000 random cases)', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('none', 'full', 'equal', 'decorrelated' as const),
        fc.integer({ min: 1, max: 1_000 }),
        fc.double({ min: 1, max: 4, noNaN: true }),
        fc.integer({ min: 1, max: 100_000 }),
        fc.integer({ min: 1, max: 30 }),
        fc.double({ min: 0, max: 100_000, noNaN: true }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (jitter, initialMs, multiplier, extra, retry, previous, r) => {
          const maxMs = initialMs + extra;
          const b = backoff.exponential({ initialMs, multiplier, maxMs, jitter });
          const d = b.delay(retry, previous, () => r);
          const cap = Math.min(maxMs, initialMs * multiplier ** (retry - 1));
          expect(d).toBeGreaterThanOrEqual(0);
          expect(d).toBeLessThanOrEqual(maxMs);
          if (jitter === 'none') expect(d).toBe(cap);
          if (jitter === 'full') expect(d).toBeLessThanOrEqual(cap);
          if (jitter === 'equal') expect(d).toBeGreaterThanOrEqual(cap / 2);
          if (jitter === 'equal') expect(d).toBeLessThanOrEqual(cap);
          if (jitter === 'decorrelated') expect(d).toBeGreaterThanOrEqual(Math.min(initialMs, maxMs));
        },
      ),
      { numRuns: 10_000 },
    );
  });

  it('rejects bad options naming each one', () => {
    let error: unknown;
    try {
      backoff.exponential({ initialMs: -1, multiplier: 0.5, jitter: 'wild' as 'none' });
    } catch (e) {
      error = e;
    }
    expect(isConfigurationError(error)).toBe(true);
    expect((error as Error).message).toMatch(/initialMs.*multiplier.*jitter/);
    expect(() => backoff.exponential({ initialMs: 500, maxMs: 100 })).toThrow(
      'maxMs: received 100, expected a number >= initialMs (500)',
    );
    expect(() => backoff.constant(Number.NaN)).toThrow(/ms/);
  });

  it('refuses a linear cap below its first delay, as exponential does', () => {
    expect(() => backoff.linear(1_000, { maxMs: 500 })).toThrow('maxMs: received 500, expected a number >= ms (1000)');
    expect(schedule(backoff.linear(100, { maxMs: 100 }), 2)).toEqual([100, 100]);
  });

  it('names initialMs, not a maxMs never given, when initialMs passes the default cap', () => {
    expect(() => backoff.exponential({ initialMs: 10_000 })).toThrow(
      'initialMs: received 10000, expected a number <= the default maxMs (5000)',
    );
  });

  it('takes an option given as undefined (a config value not set) as its default', () => {
    const fromConfig = { initialMs: undefined, maxMs: undefined, multiplier: undefined, jitter: undefined };
    const schedule = backoff.exponential(fromConfig as unknown as ExponentialOptions);
    expect([1, 2, 3].map((n) => schedule.delay(n, 0, () => 0.5))).toEqual([100, 200, 400]);
    expect(schedule.maxMs).toBe(5_000);
  });
});
