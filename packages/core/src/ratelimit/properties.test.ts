import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { memoryStore } from '../store/memory.js';
import type { RateLimitAlgorithm, RateLimitDecision } from './algorithm.js';
import { gcra } from './gcra.js';
import { tokenBucket } from './token-bucket.js';
import { fixedWindow, slidingWindow } from './windows.js';

interface Event {
  readonly t: number;
  readonly cost: number;
  readonly allowed: boolean;
}

const timeline = fc.array(fc.record({ dt: fc.integer({ min: 0, max: 400 }), cost: fc.integer({ min: 0, max: 3 }) }), {
  minLength: 1,
  maxLength: 60,
});

/** Runs a timeline through the pure transition (no store), as a Redis script would. */
function runPure(algorithm: RateLimitAlgorithm, steps: readonly { dt: number; cost: number }[]): Event[] {
  let state: unknown;
  let t = 0;
  return steps.map(({ dt, cost }) => {
    t += dt;
    const r = algorithm.consume.apply(state as never, cost, t);
    if (r.write !== false) state = r.ttlMs > 0 ? r.state : undefined;
    return { t, cost, allowed: r.output.allowed };
  });
}

/** Runs the same timeline through the memory store's packed path. */
function runStore(algorithm: RateLimitAlgorithm, steps: readonly { dt: number; cost: number }[]): RateLimitDecision[] {
  const store = memoryStore();
  let t = 0;
  return steps.map(({ dt, cost }) => {
    t += dt;
    return store.applySync('k', algorithm.consume, cost, t);
  });
}

const admittedBetween = (events: readonly Event[], from: number, to: number) =>
  events.filter((e) => e.allowed && e.t >= from && e.t <= to).reduce((sum, e) => sum + e.cost, 0);

describe('rate-limit algorithms (properties)', () => {
  it('a token bucket never admits more than capacity + refill · elapsed over any interval', () => {
    fc.assert(
      fc.property(
        timeline,
        fc.integer({ min: 1, max: 10 }),
        fc.integer({ min: 1, max: 20 }),
        (steps, capacity, rate) => {
          const events = runPure(tokenBucket({ capacity, refillPerSecond: rate }), steps);
          for (const a of events)
            for (const b of events) {
              if (b.t < a.t) continue;
              expect(admittedBetween(events, a.t, b.t)).toBeLessThanOrEqual(
                capacity + (rate * (b.t - a.t)) / 1000 + 1e-6,
              );
            }
        },
      ),
    );
  });

  it('GCRA never admits more than burst + elapsed / interval over any interval', () => {
    fc.assert(
      fc.property(timeline, fc.integer({ min: 1, max: 10 }), fc.integer({ min: 3, max: 10 }), (steps, limit, burst) => {
        const periodMs = 1000;
        const events = runPure(gcra({ limit, periodMs, burst }), steps);
        for (const a of events)
          for (const b of events) {
            if (b.t < a.t) continue;
            expect(admittedBetween(events, a.t, b.t)).toBeLessThanOrEqual(
              burst + ((b.t - a.t) * limit) / periodMs + 1e-6,
            );
          }
      }),
    );
  });

  it('a fixed window never admits more than limit in one aligned window', () => {
    fc.assert(
      fc.property(timeline, fc.integer({ min: 3, max: 10 }), (steps, limit) => {
        const windowMs = 1000;
        const events = runPure(fixedWindow({ limit, windowMs }), steps);
        for (const e of events) {
          const start = Math.floor(e.t / windowMs) * windowMs;
          expect(admittedBetween(events, start, start + windowMs - 1)).toBeLessThanOrEqual(limit);
        }
      }),
    );
  });

  it('a sliding window admits at most limit per aligned window and 2 · limit in any window-length interval', () => {
    fc.assert(
      fc.property(timeline, fc.integer({ min: 3, max: 10 }), (steps, limit) => {
        const windowMs = 1000;
        const events = runPure(slidingWindow({ limit, windowMs }), steps);
        for (const e of events) {
          const start = Math.floor(e.t / windowMs) * windowMs;
          expect(admittedBetween(events, start, start + windowMs - 1)).toBeLessThanOrEqual(limit);
          expect(admittedBetween(events, e.t - windowMs + 1, e.t)).toBeLessThanOrEqual(2 * limit);
        }
      }),
    );
  });

  const algorithms: [string, () => RateLimitAlgorithm][] = [
    ['tokenBucket', () => tokenBucket({ capacity: 5, refillPerSecond: 3 })],
    ['gcra', () => gcra({ limit: 4, periodMs: 1000, burst: 3 })],
    ['fixedWindow', () => fixedWindow({ limit: 5, windowMs: 1000 })],
    ['slidingWindow', () => slidingWindow({ limit: 5, windowMs: 1000 })],
  ];

  for (const [name, make] of algorithms) {
    it(`${name}: the memory store's packed path decides exactly as the pure transition`, () => {
      fc.assert(
        fc.property(timeline, (steps) => {
          const algorithm = make();
          const pure = runPure(algorithm, steps).map((e) => e.allowed);
          const stored = runStore(algorithm, steps).map((d) => d.allowed);
          expect(stored).toEqual(pure);
        }),
      );
    });

    it(`${name}: a denied cost is admitted once retryAfterMs has passed`, () => {
      fc.assert(
        fc.property(timeline, fc.integer({ min: 1, max: 3 }), (steps, cost) => {
          const algorithm = make();
          const store = memoryStore();
          let t = 0;
          for (const { dt, cost: c } of steps) {
            t += dt;
            store.applySync('k', algorithm.consume, c, t);
          }
          const denied = store.applySync('k', algorithm.consume, cost, t);
          if (denied.allowed) return;
          expect(denied.retryAfterMs).toBeGreaterThan(0);
          expect(store.applySync('k', algorithm.peek, cost, t + denied.retryAfterMs - 1).allowed).toBe(false);
          expect(store.applySync('k', algorithm.consume, cost, t + denied.retryAfterMs).allowed).toBe(true);
        }),
      );
    });
  }
});
