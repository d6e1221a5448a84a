import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { circuitBreaker } from '../breaker/breaker.js';
import { consecutive } from '../breaker/strategy.js';
import { FakeClock } from '../clock/fake-clock.js';
import { sequenceRandom } from '../clock/sequence-random.js';
import {
  BrokenCircuitError,
  BulkheadRejectedError,
  isRetryExhaustedError,
  RateLimitExceededError,
  type RetryExhaustedError,
} from '../errors/errors.js';
import { handle } from '../errors/handle.js';
import { pipeline } from '../pipeline/pipeline.js';
import { backoff } from './backoff.js';
import { RETRY_DEFAULTS } from './options.js';
import { retry } from './retry.js';

const transient = (n = 0) => Object.assign(new Error(`reset ${n}`), { code: 'ECONNRESET' });
const settle = <T>(p: Promise<T>) =>
  p.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );

describe('retry', () => {
  it('pins its defaults: 4 attempts on the 100, 200, 400 ms schedule', async () => {
    expect(RETRY_DEFAULTS.maxAttempts).toBe(4);
    const clock = new FakeClock();
    const policy = retry({ clock });
    const delays: number[] = [];
    policy.onRetry((e) => delays.push(e.delayMs));
    const fn = vi.fn(() => Promise.reject(transient()));
    const outcome = settle(policy.execute(fn));
    await clock.runAll();
    const result = await outcome;
    expect(fn).toHaveBeenCalledTimes(4);
    expect(delays).toEqual([100, 200, 400]);
    expect(clock.now()).toBe(700);
    expect(result.ok).toBe(false);
  });

  it('defaults to the schedule its TSDoc names: backoff.exponential({ initialMs: 100, multiplier: 2, maxMs: 5_000 })', () => {
    const documented = backoff.exponential({ initialMs: 100, multiplier: 2, maxMs: 5_000 });
    const random = () => 0.5;
    for (let n = 1; n <= 12; n++) {
      expect(RETRY_DEFAULTS.backoff.delay(n, 0, random)).toBe(documented.delay(n, 0, random));
    }
    expect(RETRY_DEFAULTS.backoff.maxMs).toBe(documented.maxMs);
  });

  it('counts maxAttempts as total calls and reports the last error as cause', async () => {
    const clock = new FakeClock();
    let calls = 0;
    const outcome = settle(
      retry({ maxAttempts: 3, backoff: backoff.constant(10), clock }).execute(() => {
        calls++;
        throw transient(calls);
      }),
    );
    await clock.runAll();
    const result = await outcome;
    expect(calls).toBe(3);
    expect(result.ok).toBe(false);
    const error = (result as { error: RetryExhaustedError }).error;
    expect(isRetryExhaustedError(error)).toBe(true);
    expect(error.attempts).toBe(3);
    expect((error.cause as Error).message).toBe('reset 3');
  });

  it('returns the value once an attempt succeeds, passing the attempt number', async () => {
    const clock = new FakeClock();
    const seen: number[] = [];
    const outcome = settle(
      retry({ clock }).execute(({ attempt }) => {
        seen.push(attempt);
        if (attempt < 3) throw transient();
        return 'ok';
      }),
    );
    await clock.runAll();
    expect(await outcome).toEqual({ ok: true, value: 'ok' });
    expect(seen).toEqual([1, 2, 3]);
  });

  it('fails at once on a non-transient error, without waiting', async () => {
    const clock = new FakeClock();
    const fn = vi.fn(() => Promise.reject(Object.assign(new Error('bad request'), { status: 400 })));
    const policy = retry({ clock });
    await expect(policy.execute(fn)).rejects.toThrow('bad request');
    expect(fn).toHaveBeenCalledTimes(1);
    expect(clock.pendingTimers).toBe(0);
    expect(policy.stats.giveUps.not_handled).toBe(1);
  });

  it('retries what a custom handle accepts', async () => {
    const clock = new FakeClock();
    const fn = vi.fn(() => Promise.reject(new Error('plain')));
    const outcome = settle(retry({ clock, maxAttempts: 2, handle: handle.all() }).execute(fn));
    await clock.runAll();
    await outcome;
    expect(fn).toHaveBeenCalledTimes(2);
  });

  it('waits as long as a server’s Retry-After asks when that is longer than the backoff', async () => {
    const clock = new FakeClock();
    const throttled = Object.assign(new Error('429'), { status: 429, headers: { 'retry-after': '3' } });
    const fn = vi.fn().mockRejectedValueOnce(throttled).mockResolvedValueOnce('done');
    const outcome = settle(retry({ clock, random: sequenceRandom(0) }).execute(fn));
    await clock.advance(2_999);
    expect(fn).toHaveBeenCalledTimes(1);
    await clock.advance(1);
    expect(await outcome).toEqual({ ok: true, value: 'done' });
  });

  it('gives up at once when Retry-After is longer than retryAfter.maxMs', async () => {
    const clock = new FakeClock();
    const throttled = Object.assign(new Error('429'), { status: 429, headers: { 'retry-after': '3600' } });
    const fn = vi.fn(() => Promise.reject(throttled));
    const policy = retry({ clock, retryAfter: { maxMs: 60_000 } });
    await expect(policy.execute(fn)).rejects.toBe(throttled);
    expect(fn).toHaveBeenCalledTimes(1);
    expect(policy.stats.giveUps.retry_after).toBe(1);
  });

  it('ignores Retry-After when retryAfter is false', async () => {
    const clock = new FakeClock();
    const throttled = Object.assign(new Error('429'), { status: 429, headers: { 'retry-after': '30' } });
    const fn = vi.fn().mockRejectedValueOnce(throttled).mockResolvedValueOnce('done');
    const outcome = settle(retry({ clock, retryAfter: false }).execute(fn));
    await clock.advance(100);
    expect(await outcome).toEqual({ ok: true, value: 'done' });
  });

  it('gives up at once when the next wait would pass the deadline', async () => {
    const clock = new FakeClock();
    const fn = vi.fn(() => Promise.reject(transient()));
    const policy = retry({ clock, deadlineMs: 250, maxAttempts: 10 });
    const outcome = settle(policy.execute(fn));
    await clock.runAll();
    const result = await outcome;
    // waits 100 and 200 would end at 300 > 250: the second retry is not attempted
    expect(fn).toHaveBeenCalledTimes(2);
    expect(clock.now()).toBe(100);
    expect((result as { error: RetryExhaustedError }).error.reason).toBe('deadline');
  });

  it('cancels the wait at once on abort and never calls the function again', async () => {
    const clock = new FakeClock();
    const controller = new AbortController();
    const fn = vi.fn(() => Promise.reject(transient()));
    const policy = retry({ clock });
    const outcome = settle(policy.execute(fn, controller.signal));
    await clock.advance(50);
    controller.abort(new Error('caller gave up'));
    const result = await outcome;
    expect((result as { error: Error }).error.message).toBe('caller gave up');
    await clock.runAll();
    expect(fn).toHaveBeenCalledTimes(1);
    expect(clock.pendingTimers).toBe(0);
    expect(policy.stats.giveUps.aborted).toBe(1);
  });

  it('does not retry an attempt that failed after the caller aborted', async () => {
    const clock = new FakeClock();
    const controller = new AbortController();
    const fn = vi.fn(async () => {
      controller.abort();
      throw transient();
    });
    await expect(retry({ clock }).execute(fn, controller.signal)).rejects.toThrow('reset');
    expect(fn).toHaveBeenCalledTimes(1);
  });

  it('passes the caller’s signal to every attempt', async () => {
    const clock = new FakeClock();
    const controller = new AbortController();
    const signals: AbortSignal[] = [];
    const outcome = settle(
      retry({ clock }).execute(({ signal, attempt }) => {
        signals.push(signal);
        if (attempt === 1) throw transient();
        return 1;
      }, controller.signal),
    );
    await clock.runAll();
    await outcome;
    expect(signals).toEqual([controller.signal, controller.signal]);
  });

  it('returns the error at once when the shared retry budget is spent, and counts it', async () => {
    const clock = new FakeClock();
    const policy = retry({ clock, budget: { ratio: 0, minRetriesPerSecond: 0.1, windowMs: 10_000 } });
    const fn = vi.fn(() => Promise.reject(transient()));
    const first = settle(policy.execute(fn));
    await clock.runAll();
    await first;
    // 0.1/s over 10 s = one retry in the window, spent by the first call
    expect(fn).toHaveBeenCalledTimes(2);
    const error = transient(99);
    await expect(policy.execute(() => Promise.reject(error))).rejects.toBe(error);
    expect(policy.stats.giveUps.budget).toBe(2);
  });

  it('keeps stats and emits typed events that can be unsubscribed', async () => {
    const clock = new FakeClock();
    const onRetry = vi.fn();
    const policy = retry({ clock, backoff: backoff.constant(5), onRetry, name: 'provider' });
    const events: string[] = [];
    const dispose = policy.onEvent((e) => events.push(`${e.policy}:${e.type}`));
    const outcome = settle(policy.execute(({ attempt }) => (attempt < 2 ? Promise.reject(transient()) : 1)));
    await clock.runAll();
    await outcome;
    expect(events).toEqual(['provider:failure', 'provider:retry', 'provider:success']);
    expect(onRetry).toHaveBeenCalledWith(expect.objectContaining({ attempt: 1, delayMs: 5 }));
    expect(policy.stats).toMatchObject({ attempts: 2, retries: 1, totalDelayMs: 5 });
    dispose();
    await policy.execute(() => 2);
    expect(events).toHaveLength(3);
  });

  it('counts in totalDelayMs only the part of a wait an abort cut short', async () => {
    const clock = new FakeClock();
    const policy = retry({ clock, backoff: backoff.constant(5_000) });
    const caller = new AbortController();
    const outcome = settle(policy.execute(() => Promise.reject(transient()), caller.signal));
    await clock.advance(10);
    caller.abort();
    expect((await outcome).ok).toBe(false);
    expect(policy.stats).toMatchObject({ attempts: 1, retries: 0, totalDelayMs: 10, giveUps: { aborted: 1 } });
  });

  it('a throwing listener does not change the outcome', async () => {
    const policy = retry();
    policy.onSuccess(() => {
      throw new Error('listener bug');
    });
    await expect(policy.execute(() => 7)).resolves.toBe(7);
  });

  it('handle.all() retries what p-retry gives up on at once: its AbortError left in the function, a thrown string', async () => {
    // p-retry's AbortError: an Error named AbortError, as p-retry defines it.
    class AbortError extends Error {
      override name = 'AbortError';
    }
    for (const thrown of [new AbortError('stop'), 'not an error']) {
      const clock = new FakeClock();
      let calls = 0;
      const outcome = settle(
        retry({ clock, handle: handle.all() }).execute(() => {
          calls++;
          throw thrown;
        }),
      );
      await clock.runAll();
      const result = await outcome;
      expect(calls).toBe(4);
      expect(result.ok || isRetryExhaustedError(result.error)).toBe(true);
      expect(result.ok || (result.error as RetryExhaustedError).cause).toBe(thrown);
    }
  });

  it('an async listener is not awaited: the next attempt does not wait for it (p-retry awaits onFailedAttempt)', async () => {
    const clock = new FakeClock();
    const policy = retry({ clock, backoff: backoff.constant(0) });
    const log: string[] = [];
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    policy.onFailure(async ({ attempt }) => {
      await held; // a token refresh, say
      log.push(`refreshed after ${attempt}`);
    });
    let calls = 0;
    const outcome = settle(
      policy.execute(() => {
        log.push(`call ${++calls}`);
        return calls < 2 ? Promise.reject(transient()) : 'ok';
      }),
    );
    await clock.runAll();
    expect(await outcome).toEqual({ ok: true, value: 'ok' });
    release();
    await held;
    await Promise.resolve();
    expect(log).toEqual(['call 1', 'call 2', 'refreshed after 1']);
  });

  it('wrap returns a function with the same parameters', async () => {
    const add = retry().wrap((a: number, b: number) => a + b);
    await expect(add(2, 3)).resolves.toBe(5);
  });

  it('rejects invalid options at construction, naming each', () => {
    expect(() => retry({ maxAttempts: 0 })).toThrow(/maxAttempts: received 0/);
    expect(() => retry({ maxAttempts: 2.5, deadlineMs: -1 })).toThrow(/maxAttempts.*deadlineMs/);
    expect(() => retry({ backoff: 100 as never })).toThrow(/backoff/);
    expect(() => retry({ retryAfter: { maxMs: -1 } })).toThrow(/retryAfter.maxMs/);
    expect(() => retry({ clock: {} as never, random: 0.5 as never })).toThrow(/clock.*random/);
  });

  it('property: exactly maxAttempts calls on persistent transient failure', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 12 }), async (maxAttempts) => {
        const clock = new FakeClock();
        let calls = 0;
        const outcome = settle(
          retry({ clock, maxAttempts, backoff: backoff.exponential({ jitter: 'full' }) }).execute(() => {
            calls++;
            throw transient();
          }),
        );
        await clock.runAll();
        const result = await outcome;
        expect(calls).toBe(maxAttempts);
        expect(result.ok).toBe(false);
      }),
      { numRuns: 40 },
    );
  });

  it('property: an abort during a wait settles without another call', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 0, max: 99 }), async (failures, abortAt) => {
        const clock = new FakeClock();
        const controller = new AbortController();
        let calls = 0;
        const outcome = settle(
          retry({ clock, maxAttempts: 10, backoff: backoff.constant(100) }).execute(() => {
            calls++;
            if (calls <= failures) throw transient();
            return 'ok';
          }, controller.signal),
        );
        // each wait is 100 ms: abort inside the first wait
        await clock.advance(abortAt);
        controller.abort();
        const result = await outcome;
        await clock.runAll();
        expect(result.ok).toBe(false);
        expect(calls).toBe(1);
      }),
      { numRuns: 40 },
    );
  });

  // Two calls against an always-503 upstream through retry(handle.all()) → breaker: the
  // breaker's refusal ends the retries at once instead of waiting out its halfOpenAfter.
  describe('the toolkit’s own rejections', () => {
    const http503 = () => Promise.reject(Object.assign(new Error('HTTP 503'), { status: 503 }));

    function upstream(handleOption: (error: unknown) => boolean) {
      const clock = new FakeClock();
      const policy = retry({ maxAttempts: 4, backoff: backoff.constant(100), handle: handleOption, clock });
      const breaker = circuitBreaker({ strategy: consecutive(1), halfOpenAfter: 10_000, clock, registry: false });
      return { clock, policy, call: () => settle(pipeline(policy, breaker).execute(http503)) };
    }

    it('are not retried under handle.all(): an open breaker is not waited out', async () => {
      const { clock, policy, call } = upstream(handle.all());
      const outcomes = [call(), call()];
      await clock.runAll();
      const [first, second] = await Promise.all(outcomes);
      for (const outcome of [first!, second!]) {
        expect(outcome.ok).toBe(false);
        const error = (outcome as { error: BrokenCircuitError }).error;
        expect(error).toBeInstanceOf(BrokenCircuitError);
        expect((error.cause as Error).message).toBe('HTTP 503');
      }
      expect(policy.stats.giveUps.not_handled).toBe(2);
      expect(clock.now()).toBe(100); // one backoff wait, no halfOpenAfter wait
    });

    it('are not retried by default (handle.transient()), even with a 503 as cause', async () => {
      const { clock, policy, call } = upstream(handle.transient());
      const outcome = call();
      await clock.runAll();
      expect((await outcome).ok).toBe(false);
      expect([policy.stats.attempts, clock.now()]).toEqual([2, 100]);
    });

    it('are retried when asked, honouring their retryAfterMs', async () => {
      const { clock, policy, call } = upstream(handle.all().orOwnRejections());
      const outcome = call();
      await clock.runAll();
      expect((await outcome).ok).toBe(false);
      expect(policy.stats.attempts).toBe(4);
      expect(clock.now()).toBeGreaterThanOrEqual(10_000);
    });

    it('give up at once on an isolated breaker, whose retryAfterMs is Infinity', async () => {
      const clock = new FakeClock();
      const breaker = circuitBreaker({ clock, registry: false });
      breaker.isolate();
      const policy = retry({ handle: handle.all().orOwnRejections(), clock });
      const fn = vi.fn(() => 1);
      const outcome = settle(pipeline(policy, breaker).execute(fn));
      await clock.runAll();
      expect((await outcome).ok).toBe(false);
      expect([policy.stats.attempts, policy.stats.giveUps.retry_after, clock.now()]).toEqual([1, 1, 0]);
      expect(fn).not.toHaveBeenCalled();
    });

    it('covers full bulkheads and rate-limit refusals too', async () => {
      for (const rejection of [new BulkheadRejectedError(1, 0), new RateLimitExceededError(50)]) {
        const clock = new FakeClock();
        const fn = vi.fn(() => Promise.reject(rejection));
        const outcome = settle(retry({ handle: handle.all(), clock }).execute(fn));
        await clock.runAll();
        expect(await outcome).toEqual({ ok: false, error: rejection });
        expect(fn).toHaveBeenCalledTimes(1);
      }
    });
  });
});
