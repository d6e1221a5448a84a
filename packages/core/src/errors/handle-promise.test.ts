import { describe, expect, it } from 'vitest';
import { circuitBreaker } from '../breaker/breaker.js';
import { consecutive } from '../breaker/strategy.js';
import { FakeClock } from '../clock/fake-clock.js';
import { fallback } from '../fallback/fallback.js';
import { hedge } from '../hedging/hedge.js';
import { backoff } from '../retry/backoff.js';
import { retry } from '../retry/retry.js';
import { adaptiveThrottle } from '../throttle/throttle.js';
import { isConfigurationError } from './errors.js';

// A non-async `handle` that returns a promise (`(e) => isRetryable(e)` over an async helper)
// passes the construction check; its answer, never awaited, said no to every error: a retry
// that never retried, a fallback that never stood in, and nothing said.
const promised = () => Promise.resolve(true) as unknown as boolean;
const rejecting = () => Promise.reject(new Error('helper broke')) as unknown as boolean;

/** The unhandled rejections while `run` runs and one turn after it. */
async function unhandledDuring(run: () => Promise<void>): Promise<unknown[]> {
  const unhandled: unknown[] = [];
  const listener = (reason: unknown) => unhandled.push(reason);
  process.on('unhandledRejection', listener);
  try {
    await run();
    await new Promise((resolve) => setImmediate(resolve));
  } finally {
    process.off('unhandledRejection', listener);
  }
  return unhandled;
}

const failing = () => {
  throw Object.assign(new Error('HTTP 503'), { status: 503 });
};

describe('a handle that answers a promise', () => {
  it('fails the retry at the first error, saying handle is not awaited', async () => {
    const policy = retry({ maxAttempts: 3, handle: promised, backoff: backoff.constant(0), clock: new FakeClock() });
    const thrown = await policy.execute(failing).catch((error: unknown) => error);
    expect(isConfigurationError(thrown)).toBe(true);
    expect((thrown as Error).message).toBe(
      'Invalid retry options: handle: received a Promise, expected true or false at once (it is not awaited)',
    );
    // Nothing lost: the call's own error is the cause.
    expect((thrown as Error).cause).toMatchObject({ message: 'HTTP 503', status: 503 });
  });

  it('leaves no unhandled rejection when the promise it answers rejects', async () => {
    const unhandled = await unhandledDuring(async () => {
      const thrown = await retry({ handle: rejecting })
        .execute(failing)
        .catch((error: unknown) => error);
      expect(isConfigurationError(thrown)).toBe(true);
    });
    expect(unhandled).toEqual([]);
  });

  it('fails the fallback the same way', async () => {
    const policy = fallback('cached', { handle: promised });
    const thrown = await policy.execute(failing).catch((error: unknown) => error);
    expect((thrown as Error).message).toBe(
      'Invalid fallback options: handle: received a Promise, expected true or false at once (it is not awaited)',
    );
  });

  it('keeps a handle that answers true or false, or throws, as before', async () => {
    let calls = 0;
    const count = () => {
      calls++;
      return failing();
    };
    await expect(
      retry({ maxAttempts: 2, handle: () => true, backoff: backoff.constant(0) }).execute(count),
    ).rejects.toThrow();
    expect(calls).toBe(2);
    const throwing = () => {
      throw new Error('handle broke');
    };
    await expect(retry({ maxAttempts: 2, handle: throwing }).execute(failing)).rejects.toThrow('HTTP 503');
  });

  it('fails the hedge the same way, without leaving the call waiting', async () => {
    const policy = hedge({ delayMs: 1_000, maxHedges: 1, handle: promised, clock: new FakeClock() });
    const thrown = await policy.execute(failing).catch((error: unknown) => error);
    expect((thrown as Error).message).toBe(
      'Invalid hedge options: handle: received a Promise, expected true or false at once (it is not awaited)',
    );
    expect((thrown as Error).cause).toMatchObject({ message: 'HTTP 503' });
  });

  it("fails the throttle's call the same way, naming overloaded", async () => {
    const throttle = adaptiveThrottle({ overloaded: promised, clock: new FakeClock() });
    const thrown = await throttle.execute(failing).catch((error: unknown) => error);
    expect((thrown as Error).message).toBe(
      'Invalid adaptiveThrottle options: overloaded: received a Promise, expected true or false at once (it is not awaited)',
    );
    expect((thrown as Error).cause).toMatchObject({ message: 'HTTP 503' });
  });

  it('counts a failure in a breaker, as a handle that throws does (its answer cannot be waited for)', async () => {
    const unhandled = await unhandledDuring(async () => {
      for (const handle of [promised, rejecting]) {
        const breaker = circuitBreaker({ handle, strategy: consecutive(2), registry: false });
        for (let i = 0; i < 2; i++) await expect(breaker.execute(failing)).rejects.toThrow('HTTP 503');
        expect(breaker.state).toBe('open');
      }
    });
    expect(unhandled).toEqual([]);
  });
});
