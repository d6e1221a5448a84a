import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { rateLimiter } from '../ratelimit/limiter.js';
import { tokenBucket } from '../ratelimit/token-bucket.js';
import { backoff } from '../retry/backoff.js';
import { retry } from '../retry/retry.js';
import { memoryStore } from '../store/memory.js';
import type { Store } from '../store/store.js';
import { timeout } from '../timeout/timeout.js';
import { systemClock } from './clock.js';

// Node fires a timer longer than 2^31 − 1 ms after 1 ms; vitest's fake timers do the same.
const MAX = 2 ** 31 - 1;
const LONG = 3e9;

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('systemClock timers longer than 2^31 − 1 ms', () => {
  it('fire when due, never early', () => {
    const fired = vi.fn();
    systemClock.setTimeout(fired, LONG);
    vi.advanceTimersByTime(MAX);
    expect(fired).not.toHaveBeenCalled();
    vi.advanceTimersByTime(LONG - MAX - 1);
    expect(fired).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(fired).toHaveBeenCalledOnce();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('still fire at once or after the short delays they were given', () => {
    const fired: number[] = [];
    systemClock.setTimeout(() => fired.push(MAX), MAX);
    systemClock.setTimeout(() => fired.push(0), 0);
    vi.advanceTimersByTime(MAX);
    expect(fired).toEqual([0, MAX]);
  });

  it('can be cleared at any link of the chain', () => {
    const fired = vi.fn();
    const handle = systemClock.setTimeout(fired, LONG);
    vi.advanceTimersByTime(MAX + 1);
    systemClock.clearTimeout(handle);
    vi.advanceTimersByTime(LONG);
    expect(fired).not.toHaveBeenCalled();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('carry unref and ref over to every link of the chain', () => {
    const realSetTimeout = globalThis.setTimeout;
    const unrefed: unknown[] = [];
    vi.spyOn(globalThis, 'setTimeout').mockImplementation(((callback: () => void, ms: number) => {
      const timer = realSetTimeout(callback, ms);
      const unref = timer.unref.bind(timer);
      timer.unref = () => {
        unrefed.push(timer);
        return unref();
      };
      return timer;
    }) as typeof setTimeout);
    const handle = systemClock.setTimeout(() => {}, 3 * MAX) as { unref(): unknown; ref(): unknown };
    handle.unref();
    vi.advanceTimersByTime(MAX);
    expect(unrefed).toHaveLength(2); // the first link, and the second as it was armed
    handle.ref();
    vi.advanceTimersByTime(MAX);
    expect(unrefed).toHaveLength(2);
    systemClock.clearTimeout(handle);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('never fire for an infinite delay', () => {
    const fired = vi.fn();
    systemClock.setTimeout(fired, Number.POSITIVE_INFINITY);
    vi.advanceTimersByTime(10 * MAX);
    expect(fired).not.toHaveBeenCalled();
    vi.clearAllTimers();
  });

  it('sleep waits the whole delay and stops when its signal aborts', async () => {
    let slept = false;
    void systemClock.sleep(LONG).then(() => (slept = true));
    await vi.advanceTimersByTimeAsync(LONG - 1);
    expect(slept).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(slept).toBe(true);

    const caller = new AbortController();
    const aborted = systemClock.sleep(LONG, caller.signal).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(MAX + 1);
    caller.abort('stop');
    expect(await aborted).toBe('stop');
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('policies on the system clock with delays longer than 2^31 − 1 ms', () => {
  it('retry waits out a 3e9 ms backoff instead of retrying after 1 ms', async () => {
    let calls = 0;
    const policy = retry({ maxAttempts: 5, backoff: backoff.constant(LONG), handle: () => true });
    const call = policy
      .execute(() => {
        calls++;
        throw new Error('down');
      })
      .catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(100);
    expect(calls).toBe(1);
    await vi.advanceTimersByTimeAsync(LONG);
    expect(calls).toBe(2);
    vi.clearAllTimers();
    void call;
  });

  it('timeout(3e9) arms one timer for the whole limit instead of one every millisecond', async () => {
    const policy = timeout(LONG);
    let finish!: () => void;
    const call = policy.execute(() => new Promise<void>((resolve) => (finish = resolve)));
    const setTimeoutSpy = vi.spyOn(globalThis, 'setTimeout');
    await vi.advanceTimersByTimeAsync(100);
    expect(setTimeoutSpy).not.toHaveBeenCalled();
    finish();
    await call;
  });

  it('rateLimiter.wait sleeps through a refill of ~116 days instead of polling the store', async () => {
    const inner = memoryStore();
    let applies = 0;
    const store: Store = {
      ...inner,
      apply: (key, transition, input, now) => {
        applies++;
        return inner.apply(key, transition, input, now);
      },
      applyAll: (ops, now) => inner.applyAll(ops, now),
      get: (key, now) => inner.get(key, now),
      set: (key, state, ttlMs, now) => inner.set(key, state, ttlMs, now),
      delete: (key) => inner.delete(key),
      keys: (prefix, now, options) => inner.keys(prefix, now, options),
    };
    const day = 86_400_000;
    const limiter = rateLimiter({
      algorithm: tokenBucket({ capacity: 1, refillPerSecond: 1_000 / (116 * day) }),
      store,
      clock: systemClock,
      maxWaitMs: 200 * day,
    });
    await limiter.consume('k');
    const caller = new AbortController();
    const waited = limiter.wait('k', { signal: caller.signal }).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(300);
    expect(applies).toBe(2); // the consume, and the wait's one refused try
    caller.abort('done');
    expect(await waited).toBe('done');
  });
});
