import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../clock/fake-clock.js';
import { RetryBudget } from '../retry/budget.js';
import { metrics } from './metrics.js';

const exact = (sorted: number[], q: number) => sorted[Math.floor(q * (sorted.length - 1))]!;

describe('windows (properties)', () => {
  it('a metrics window counts exactly the calls of its sub-windows, with percentiles within 1 % and the exact max', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 120_000 }),
        fc.integer({ min: 1, max: 6 }),
        fc.array(
          fc.record({
            dt: fc.oneof(fc.integer({ min: 0, max: 50 }), fc.integer({ min: 0, max: 200_000 })),
            latencyMs: fc.double({ min: 0.01, max: 100_000, noNaN: true }),
            ok: fc.boolean(),
          }),
          { minLength: 1, maxLength: 80 },
        ),
        async (windowMs, subWindows, calls) => {
          const clock = new FakeClock(1_700_000_000_000);
          const stats = metrics({ windowMs, subWindows, clock });
          const slotMs = windowMs / subWindows;
          const seen: { id: number; latencyMs: number; ok: boolean }[] = [];
          for (const { dt, latencyMs, ok } of calls) {
            await clock.advance(dt);
            stats.recordCall(ok ? { latencyMs, ok } : { latencyMs, ok, error: new Error('x') });
            const id = Math.floor(clock.now() / slotMs);
            seen.push({ id, latencyMs, ok });
            const live = seen.filter((s) => s.id > id - subWindows);
            const s = stats.snapshot();
            expect([s.calls, s.ok, s.failed]).toEqual([
              live.length,
              live.filter((c) => c.ok).length,
              live.filter((c) => !c.ok).length,
            ]);
            const sorted = live.map((c) => c.latencyMs).sort((a, b) => a - b);
            expect(s.latency.max).toBe(sorted.at(-1));
            for (const [q, got] of [
              [0.5, s.latency.p50],
              [0.95, s.latency.p95],
              [0.99, s.latency.p99],
            ] as const) {
              const want = exact(sorted, q);
              expect(Math.abs(got - want) / want).toBeLessThanOrEqual(0.01 + 1e-12);
            }
          }
        },
      ),
      { numRuns: 150 },
    );
  });

  it('a retry budget allows at most ratio × calls + minRetriesPerSecond × windowMs / 1000 retries over its window', async () => {
    type Op = { kind: 'call' } | { kind: 'retry' } | { kind: 'release' } | { kind: 'advance'; ms: number };
    const opArb: fc.Arbitrary<Op> = fc.oneof(
      { weight: 4, arbitrary: fc.constant({ kind: 'call' as const }) },
      { weight: 4, arbitrary: fc.constant({ kind: 'retry' as const }) },
      { weight: 1, arbitrary: fc.constant({ kind: 'release' as const }) },
      {
        weight: 2,
        arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 4_000 }) }),
      },
    );
    await fc.assert(
      fc.asyncProperty(
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.integer({ min: 0, max: 3 }),
        fc.array(opArb, { minLength: 1, maxLength: 120 }),
        async (ratio, minRetriesPerSecond, ops) => {
          const windowMs = 10_000;
          const bucketMs = windowMs / 10;
          const clock = new FakeClock(1_700_000_000_000);
          const budget = new RetryBudget({ ratio, minRetriesPerSecond, windowMs, clock });
          const calls: number[] = [];
          const retries: number[] = []; // the bucket of each retry taken and not given back
          for (const op of ops) {
            const bucket = Math.floor(clock.now() / bucketMs);
            if (op.kind === 'advance') await clock.advance(op.ms);
            else if (op.kind === 'call') {
              budget.recordCall();
              calls.push(bucket);
            } else if (op.kind === 'release') {
              if (retries.at(-1) === bucket) {
                budget.release();
                retries.pop();
              }
            } else if (budget.tryRetry()) {
              retries.push(bucket);
              const inWindow = (b: number) => b > bucket - 10;
              expect(retries.filter(inWindow).length).toBeLessThanOrEqual(
                ratio * calls.filter(inWindow).length + (minRetriesPerSecond * windowMs) / 1000 + 1e-9,
              );
            } else {
              // Refused only when the window is spent.
              const inWindow = (b: number) => b > bucket - 10;
              expect(retries.filter(inWindow).length + 1).toBeGreaterThan(
                ratio * calls.filter(inWindow).length + (minRetriesPerSecond * windowMs) / 1000 - 1e-9,
              );
            }
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});
