import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../clock/fake-clock.js';
import { isRetryExhaustedError } from '../errors/errors.js';
import { backoff } from './backoff.js';
import { RetryBudget } from './budget.js';
import { retry } from './retry.js';

/** A transient failure, with the server's `retryAfterMs` when it sent one. */
const failure = (retryAfterMs: number | undefined) =>
  Object.assign(new Error('503'), { status: 503 }, retryAfterMs === undefined ? {} : { retryAfterMs });

describe('retry (properties)', () => {
  it('never calls more than maxAttempts times; each wait is within the backoff, Retry-After and its jitter; gives up as documented', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 6 }),
        fc.constantFrom('none' as const, 'full' as const, 'equal' as const, 'decorrelated' as const),
        fc.integer({ min: 1, max: 400 }),
        fc.integer({ min: 0, max: 3_000 }),
        fc.option(fc.integer({ min: 1, max: 20_000 }), { nil: undefined }),
        fc.array(fc.option(fc.integer({ min: 0, max: 5_000 }), { nil: undefined, freq: 2 }), {
          minLength: 8,
          maxLength: 8,
        }),
        fc.integer({ min: 0, max: 8 }),
        async (maxAttempts, jitter, initialMs, retryAfterMaxMs, deadlineMs, serverDelays, failures) => {
          const clock = new FakeClock();
          const maxMs = initialMs * 8;
          const policy = retry({
            clock,
            maxAttempts,
            backoff: backoff.exponential({ initialMs, maxMs, jitter }),
            retryAfter: { maxMs: retryAfterMaxMs },
            ...(deadlineMs === undefined ? {} : { deadlineMs }),
          });
          const calls: number[] = [];
          let outcome: { ok: boolean; error?: unknown } | undefined;
          policy
            .execute(() => {
              calls.push(clock.now());
              const n = calls.length - 1;
              if (n < failures) throw failure(serverDelays[n]);
              return 'ok';
            })
            .then(
              () => (outcome = { ok: true }),
              (error: unknown) => (outcome = { ok: false, error }),
            );
          await clock.runAll();
          expect(outcome).toBeDefined();
          expect(calls.length).toBeLessThanOrEqual(maxAttempts);
          for (let i = 1; i < calls.length; i++) {
            const waited = calls[i]! - calls[i - 1]!;
            const server = serverDelays[i - 1];
            expect(server === undefined || server <= retryAfterMaxMs).toBe(true);
            const most = Math.max(maxMs, server === undefined ? 0 : server + Math.min(1_000, server * 0.1));
            expect(waited).toBeLessThanOrEqual(most + 1e-6); // times are sums of fractional waits
            if (server !== undefined) expect(waited).toBeGreaterThanOrEqual(server - 1e-6);
            if (jitter === 'none')
              expect(waited).toBeGreaterThanOrEqual(Math.min(maxMs, initialMs * 2 ** (i - 1)) - 1e-6);
          }
          if (deadlineMs !== undefined) expect(calls.at(-1)!).toBeLessThanOrEqual(deadlineMs + 1e-6);
          if (outcome!.ok) {
            expect(calls.length).toBe(failures + 1);
            return;
          }
          // Gave up: out of attempts, past the deadline or the server's wait too long.
          const last = serverDelays[calls.length - 1];
          const error = outcome!.error;
          if (isRetryExhaustedError(error)) {
            expect(error.attempts).toBe(calls.length);
            if (calls.length < maxAttempts) expect(deadlineMs).toBeDefined();
          } else expect((last ?? 0) > retryAfterMaxMs).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('with a budget, never retries more than the budget allows, however many callers share it', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 30 }),
        fc.double({ min: 0, max: 0.5, noNaN: true }),
        fc.integer({ min: 0, max: 2 }),
        async (callers, ratio, minRetriesPerSecond) => {
          const clock = new FakeClock();
          const budget = new RetryBudget({ ratio, minRetriesPerSecond, windowMs: 10_000, clock });
          const policy = retry({ clock, maxAttempts: 5, backoff: backoff.constant(10), budget });
          let attempts = 0;
          const all = Array.from({ length: callers }, () =>
            policy
              .execute(() => {
                attempts++;
                throw failure(undefined);
              })
              .catch(() => undefined),
          );
          await clock.runAll();
          await Promise.all(all);
          const retries = attempts - callers;
          expect(retries).toBeLessThanOrEqual(ratio * callers + minRetriesPerSecond * 10 + 1e-9);
          expect(retries).toBeLessThanOrEqual(callers * 4);
        },
      ),
      { numRuns: 100 },
    );
  });
});
