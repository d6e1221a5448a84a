import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../clock/fake-clock.js';
import { gcra } from './gcra.js';
import { rateLimiter } from './limiter.js';

// Doubles near Date.now() are exact only to ~2.4e-4 ms: the step must not compare absolute times.
const EPOCH = Date.UTC(2026, 0, 1);

describe('gcra at epoch-sized times', () => {
  it('admits an idle key, and again once its retryAfterMs has passed', async () => {
    const clock = new FakeClock(EPOCH);
    const limiter = rateLimiter({ algorithm: gcra({ limit: 6, periodMs: 1000, burst: 1 }), clock });
    expect(limiter.consumeSync('k')).toMatchObject({ allowed: true, remaining: 0 });
    const d = limiter.consumeSync('k');
    expect(d).toMatchObject({ allowed: false, retryAfterMs: 167 });
    await clock.advance(d.retryAfterMs);
    expect(limiter.consumeSync('k').allowed).toBe(true);
    await clock.advance(60_000);
    expect(limiter.consumeSync('k').allowed).toBe(true);
  });

  it('admits a whole burst at once at Date.now()-sized times (and at 2^43 ms)', () => {
    // Each admission rounds the stored time to a double near now (a 2.4e-4 ms grid at EPOCH):
    // 60 steps of 16.67 ms rounded the same way refused the 60th request of a burst of 60.
    // (At 2^43 ms a double is exact to 2e-3 ms: 1000 steps of 0.333 ms are beyond any double.)
    const cases = [EPOCH, EPOCH + 12_345.5].flatMap((t): [number, number, number][] => [
      [t, 60, 1000],
      [t, 100, 333],
      [t, 1000, 333],
    ]);
    for (const [start, limit, periodMs] of [...cases, [2 ** 43, 60, 1000], [2 ** 43, 3, 1000]] as const) {
      const limiter = rateLimiter({ algorithm: gcra({ limit, periodMs }), clock: new FakeClock(start) });
      let admitted = 0;
      while (limiter.consumeSync('k').allowed) admitted++;
      expect({ start, limit, periodMs, admitted }).toEqual({ start, limit, periodMs, admitted: limit });
    }
  });

  it('admits cost === burst on a fresh key', () => {
    const clock = new FakeClock(EPOCH);
    const limiter = rateLimiter({ algorithm: gcra({ limit: 3, periodMs: 1000, burst: 2 }), clock });
    expect(limiter.consumeSync('k', 2)).toMatchObject({ allowed: true, remaining: 0 });
  });

  it('never over-admits, never refuses with retryAfterMs <= 0, admits a client that waited retryAfterMs', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 2 ** 42 }),
        fc.integer({ min: 1, max: 50 }),
        fc.integer({ min: 1, max: 10_000 }),
        fc.integer({ min: 1, max: 10 }),
        fc.array(fc.record({ dt: fc.integer({ min: 0, max: 500 }), cost: fc.nat(10), retry: fc.boolean() }), {
          minLength: 1,
          maxLength: 40,
        }),
        async (start, limit, periodMs, burstIn, steps) => {
          const burst = Math.min(burstIn, limit);
          const clock = new FakeClock(EPOCH + start);
          const limiter = rateLimiter({ algorithm: gcra({ limit, periodMs, burst }), clock });
          const admitted: [t: number, cost: number][] = [];
          for (const { dt, cost: c, retry } of steps) {
            const cost = Math.min(c, burst);
            await clock.advance(dt);
            let d = limiter.consumeSync('k', cost);
            if (!d.allowed) {
              expect(d.retryAfterMs).toBeGreaterThan(0);
              if (!retry) continue;
              await clock.advance(d.retryAfterMs);
              d = limiter.consumeSync('k', cost);
              expect(d.allowed).toBe(true);
            }
            admitted.push([clock.now(), cost]);
          }
          // Over any interval of t ms: at most burst + t · limit / periodMs (within a µs).
          for (let i = 0; i < admitted.length; i++) {
            let sum = 0;
            for (let j = i; j < admitted.length; j++) {
              sum += admitted[j]![1];
              const t = admitted[j]![0] - admitted[i]![0];
              expect(sum).toBeLessThanOrEqual(burst + ((t + 1e-3) * limit) / periodMs + 1e-9);
            }
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
