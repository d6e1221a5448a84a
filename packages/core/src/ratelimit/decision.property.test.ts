import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { RateLimitAlgorithm } from './algorithm.js';
import { gcra } from './gcra.js';
import { tokenBucket } from './token-bucket.js';
import { fixedWindow, slidingWindow } from './windows.js';

// biome-ignore lint/suspicious/noExplicitAny: any algorithm's state.
type Algorithm = RateLimitAlgorithm<any>;

// Parameters as users write them: per-minute and per-hour rates, fractional too.
const algorithmArb: fc.Arbitrary<[string, () => Algorithm]> = fc.oneof(
  fc
    .record({ capacity: fc.integer({ min: 1, max: 100 }), perMinute: fc.integer({ min: 1, max: 600 }) })
    .map(({ capacity, perMinute }): [string, () => Algorithm] => [
      `tokenBucket(${capacity}, ${perMinute}/60)`,
      () => tokenBucket({ capacity, refillPerSecond: perMinute / 60 }),
    ]),
  fc
    .record({
      limit: fc.integer({ min: 1, max: 100 }),
      periodMs: fc.constantFrom(1_000, 60_000, 3_600_000),
      burst: fc.integer({ min: 1, max: 100 }),
    })
    .map(({ limit, periodMs, burst }): [string, () => Algorithm] => [
      `gcra(${limit}, ${periodMs}, ${burst})`,
      () => gcra({ limit, periodMs, burst }),
    ]),
  fc
    .record({ limit: fc.integer({ min: 1, max: 100 }), windowMs: fc.constantFrom(1_000, 60_000, 1_500, 7) })
    .chain(({ limit, windowMs }) =>
      fc.constantFrom<[string, () => Algorithm]>(
        [`fixedWindow(${limit}, ${windowMs})`, () => fixedWindow({ limit, windowMs })],
        [`slidingWindow(${limit}, ${windowMs})`, () => slidingWindow({ limit, windowMs })],
      ),
    ),
);

const stepsArb = fc.array(
  fc.record({
    dt: fc.oneof(fc.integer({ min: 0, max: 50 }), fc.integer({ min: 0, max: 70_000 })),
    share: fc.double({ min: 0, max: 1, noNaN: true }),
  }),
  { minLength: 1, maxLength: 40 },
);

describe('rate-limit decisions (properties)', () => {
  it('remaining, resetMs and retryAfterMs say what the next call finds', () => {
    fc.assert(
      fc.property(algorithmArb, stepsArb, fc.integer({ min: 0, max: 2 ** 40 }), ([, make], steps, start) => {
        const algorithm = make();
        const limit = algorithm.maxCost;
        let state: unknown;
        let t = 1_700_000_000_000 + start;
        const peek = (cost: number, at: number) => algorithm.peek.apply(state as never, cost, at).output;
        for (const { dt, share } of steps) {
          t += dt;
          const cost = Math.max(1, Math.round(share * limit));
          const r = algorithm.consume.apply(state as never, cost, t);
          const d = r.output;
          if (r.write !== false) state = r.ttlMs > 0 ? r.state : undefined;
          else expect(d.allowed).toBe(false);
          // remaining: that much passes now, one more does not.
          expect(Number.isInteger(d.remaining) && d.remaining >= 0 && d.remaining <= d.limit).toBe(true);
          if (d.remaining > 0) expect(peek(d.remaining, t).allowed, `remaining ${d.remaining} passes`).toBe(true);
          if (d.remaining + 1 <= limit)
            expect(peek(d.remaining + 1, t).allowed, `remaining ${d.remaining}`).toBe(false);
          // resetMs: the key is full again then.
          expect(peek(0, t + d.resetMs).remaining, `full after resetMs ${d.resetMs}`).toBe(d.limit);
          if (!d.allowed) {
            expect(d.retryAfterMs).toBeGreaterThan(0);
            expect(peek(cost, t + d.retryAfterMs).allowed, `passes after retryAfterMs ${d.retryAfterMs}`).toBe(true);
            expect(peek(cost, t + d.retryAfterMs - 1).allowed, `not before retryAfterMs ${d.retryAfterMs}`).toBe(false);
            expect(d.retryAfterMs).toBeLessThanOrEqual(Math.max(d.resetMs, 1));
          }
        }
      }),
      { numRuns: 500 },
    );
  });
});
