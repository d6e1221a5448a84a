import { afterEach, describe, expect, it, vi } from 'vitest';
import { bulkhead } from '../bulkhead/bulkhead.js';
import { FakeClock } from '../clock/fake-clock.js';
import { handle } from '../errors/handle.js';
import { rateLimiter } from '../ratelimit/limiter.js';
import { tokenBucket } from '../ratelimit/token-bucket.js';
import { backoff } from '../retry/backoff.js';
import { retry } from '../retry/retry.js';
import { followAbort, followerCount } from './abort-fanout.js';

afterEach(() => vi.restoreAllMocks());

/** An error util.inspect cannot print: its `stack` getter throws. */
const unprintable = () => {
  const e = new Error('listener bug');
  Object.defineProperty(e, 'stack', {
    get() {
      throw new Error('stack unavailable');
    },
  });
  return e;
};

describe('callbacks that misbehave never change the call they observe', () => {
  it('a listener throwing an error console.warn cannot print: the retry still succeeds', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation((_m: unknown, e?: unknown) => {
      if (e !== undefined) void (e as Error).stack; // what util.inspect does
    });
    const r = retry({ maxAttempts: 3, backoff: backoff.constant(0), handle: handle.all() });
    r.onRetry(() => {
      throw unprintable();
    });
    let calls = 0;
    const value = await r.execute(() => {
      if (++calls < 3) throw new Error('flaky');
      return 'ok';
    });
    expect([value, calls]).toEqual(['ok', 3]);
    expect(warn).toHaveBeenCalled();
  });

  it('one abort follower that throws leaves the others told (a queued call under the same signal leaves)', async () => {
    const thrown: unknown[] = [];
    const onError = (e: unknown) => thrown.push(e);
    process.on('uncaughtException', onError);
    try {
      const request = new AbortController();
      followAbort(request.signal, {
        handleEvent() {
          throw new Error('cancel: request already finished');
        },
      });
      const pool = bulkhead({ limit: 1, queue: 1 });
      let release!: () => void;
      void pool.execute(() => new Promise<void>((r) => (release = r)));
      let ran = false;
      const queued = pool.execute(() => {
        ran = true;
      }, request.signal);
      request.abort(new Error('client left'));
      await expect(queued).rejects.toThrow('client left');
      release();
      await new Promise((r) => setImmediate(r));
      expect(ran).toBe(false);
      expect(followerCount(request.signal)).toBe(0);
      expect(thrown.map((e) => (e as Error).message)).toEqual(['cancel: request already finished']);
    } finally {
      process.off('uncaughtException', onError);
    }
  });

  it('a rate-limit policy whose key function throws rejects, as every policy does, never throws', async () => {
    const limiter = rateLimiter({ algorithm: tokenBucket(), clock: new FakeClock() });
    const policy = limiter.policy({
      key: () => {
        throw new Error('no user');
      },
    });
    const call = policy.execute(() => 'ran');
    expect(call).toBeInstanceOf(Promise);
    await expect(call).rejects.toThrow('no user');
  });

  it('a random source answering NaN leaves the wait a Retry-After asks for whole', async () => {
    const clock = new FakeClock();
    const r = retry({
      maxAttempts: 2,
      backoff: backoff.constant(0),
      random: () => Number.NaN,
      clock,
      handle: handle.all(),
    });
    let calls = 0;
    const done = r.execute(() => {
      if (++calls === 1) throw Object.assign(new Error('busy'), { retryAfterMs: 5_000 });
      return 'ok';
    });
    await clock.advance(4_999);
    expect(calls).toBe(1);
    await clock.advance(1);
    expect(await done).toBe('ok');
  });
});
