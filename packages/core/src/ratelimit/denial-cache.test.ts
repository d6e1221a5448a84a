/**
 * The denial cache of a limiter over a networked store: a key refused until T is refused
 * again locally until T, with no store round trip.
 */
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../clock/fake-clock.js';
import { ConfigurationError, StoreUnavailableError } from '../errors/errors.js';
import { memoryStore } from '../store/memory.js';
import type { Store } from '../store/store.js';
import { rateLimiter } from './limiter.js';
import { RATE_LIMITER_DEFAULTS } from './options.js';
import { tokenBucket } from './token-bucket.js';
import { fixedWindow } from './windows.js';

/**
 * A store that is not the limiter's memory store (as a networked one is), counting its
 * round trips; `skewMs` makes it decide on a clock that far ahead of the caller's (as a
 * Redis store with `time: 'server'` does).
 */
function remote(skewMs = 0) {
  const base = memoryStore();
  const calls = { count: 0 };
  const trip = <T>(result: T): T => {
    calls.count++;
    return result;
  };
  const store: Store = {
    apply: (key, t, input, now) => trip(base.apply(key, t, input, now + skewMs)),
    applyAll: (ops, now) => trip(base.applyAll(ops, now + skewMs)),
    get: (key, now) => base.get(key, now + skewMs),
    set: (key, v, ttlMs, now) => base.set(key, v, ttlMs, now + skewMs),
    delete: (key) => trip(base.delete(key)),
    keys: (prefix, now, options) => base.keys(prefix, now + skewMs, options),
  };
  return { store, calls };
}

/** 2 tokens, one more every 10 s. */
const bucket = () => tokenBucket({ capacity: 2, refillPerSecond: 0.1 });

describe('rateLimiter denial cache', () => {
  it('refuses a key denied until T locally until T (no round trip), then asks the store again', async () => {
    const { store, calls } = remote();
    const clock = new FakeClock(1_000);
    const limiter = rateLimiter({ algorithm: bucket(), store, clock });
    await limiter.consume('u');
    await limiter.consume('u');
    const denied = await limiter.consume('u');
    expect(denied).toMatchObject({ allowed: false, retryAfterMs: 10_000 });
    expect(calls.count).toBe(3);
    await clock.advance(4_000);
    for (let i = 0; i < 100; i++) {
      expect(await limiter.consume('u')).toMatchObject({ allowed: false, retryAfterMs: 6_000, remaining: 0 });
    }
    expect(calls.count).toBe(3);
    expect(limiter.stats).toMatchObject({ requests: 103, allowed: 2, blocked: 101, cachedDenials: 100 });
    await clock.advance(5_999);
    expect(await limiter.consume('u')).toMatchObject({ allowed: false, retryAfterMs: 1 });
    expect(calls.count).toBe(3);
    await clock.advance(1);
    expect(await limiter.consume('u')).toMatchObject({ allowed: true });
    expect(calls.count).toBe(4);
  });

  it("counts the store's refusal from when the request was sent, in local time, whatever the store's clock", async () => {
    // The store decides 30 s ahead of this instance (time: 'server'); its retryAfterMs is a
    // duration, so the local refusal ends at local send time + retryAfterMs.
    const { store, calls } = remote(30_000);
    const clock = new FakeClock(0);
    const limiter = rateLimiter({ algorithm: fixedWindow({ limit: 1, windowMs: 60_000 }), store, clock });
    expect((await limiter.consume('u')).allowed).toBe(true);
    // The store's window ends at its 60 s, which is local 30 s.
    expect(await limiter.consume('u')).toMatchObject({ allowed: false, retryAfterMs: 30_000 });
    await clock.advance(29_999);
    expect((await limiter.consume('u')).allowed).toBe(false);
    expect(calls.count).toBe(2);
    await clock.advance(1);
    expect((await limiter.consume('u')).allowed).toBe(true);
    expect(calls.count).toBe(3);
  });

  it('asks the store for a smaller cost than the one denied, and an admission ends the cached denial', async () => {
    const { store, calls } = remote();
    const clock = new FakeClock();
    const limiter = rateLimiter({ algorithm: bucket(), store, clock });
    await limiter.consume('u');
    expect((await limiter.consume('u', 2)).allowed).toBe(false);
    expect((await limiter.consume('u', 2)).allowed).toBe(false);
    expect(calls.count).toBe(2);
    expect((await limiter.consume('u', 1)).allowed).toBe(true);
    expect(calls.count).toBe(3);
    expect((await limiter.consume('u', 1)).allowed).toBe(false);
    expect(calls.count).toBe(4);
  });

  it('asks the store for a larger cost than the one denied: its wait is longer', async () => {
    const clock = new FakeClock();
    const { store, calls } = remote();
    const limiter = rateLimiter({ algorithm: tokenBucket({ capacity: 10, refillPerSecond: 1 }), store, clock });
    await limiter.consume('k', 10);
    expect(await limiter.consume('k', 1)).toMatchObject({ allowed: false, retryAfterMs: 1000 });
    expect(await limiter.consume('k', 10)).toMatchObject({ allowed: false, retryAfterMs: 10_000 });
    expect(await limiter.consume('k', 10)).toMatchObject({ allowed: false, retryAfterMs: 10_000 });
    expect(calls.count).toBe(3); // the last from the cache
  });

  it('reset(key) forgets the cached denial; peek always asks the store', async () => {
    const { store, calls } = remote();
    const limiter = rateLimiter({ algorithm: bucket(), store, clock: new FakeClock() });
    for (let i = 0; i < 3; i++) await limiter.consume('u');
    expect((await limiter.peek('u')).allowed).toBe(false);
    expect(calls.count).toBe(4);
    await limiter.reset('u');
    expect((await limiter.consume('u')).allowed).toBe(true);
    expect(calls.count).toBe(6);
  });

  it('counts down every limit of a combined denial', async () => {
    const { store } = remote();
    const clock = new FakeClock();
    const limiter = rateLimiter({
      algorithm: [fixedWindow({ limit: 1, windowMs: 1_000 }), fixedWindow({ limit: 5, windowMs: 60_000 })],
      store,
      clock,
    });
    await limiter.consume('u');
    const denied = await limiter.consume('u');
    expect(denied.limits?.map((d) => [d.allowed, d.retryAfterMs, d.resetMs])).toEqual([
      [false, 1_000, 1_000],
      [true, 0, 60_000],
    ]);
    await clock.advance(400);
    const cached = await limiter.consume('u');
    expect([cached.allowed, cached.retryAfterMs, cached.resetMs]).toEqual([false, 600, 600]);
    expect(cached.limits?.map((d) => [d.allowed, d.retryAfterMs, d.resetMs])).toEqual([
      [false, 600, 600],
      [true, 0, 59_600],
    ]);
  });

  it('wait() sleeps through a cached denial and asks the store once it ends', async () => {
    const { store, calls } = remote();
    const clock = new FakeClock();
    const limiter = rateLimiter({ algorithm: bucket(), store, clock });
    for (let i = 0; i < 3; i++) await limiter.consume('u');
    const waited = limiter.wait('u');
    await clock.advance(10_000);
    expect((await waited).allowed).toBe(true);
    expect(calls.count).toBe(4);
  });

  it('forgets a denial when the clock steps back (NTP): the key is not refused for the length of the step', async () => {
    const { store, calls } = remote();
    const fake = new FakeClock(1_700_000_000_000);
    let backMs = 0;
    const clock = {
      now: () => fake.now() - backMs,
      sleep: fake.sleep.bind(fake),
      setTimeout: fake.setTimeout.bind(fake),
      clearTimeout: fake.clearTimeout.bind(fake),
    };
    const limiter = rateLimiter({ algorithm: bucket(), store, clock });
    await limiter.consume('u');
    await limiter.consume('u');
    expect(await limiter.consume('u')).toMatchObject({ allowed: false, retryAfterMs: 10_000 });
    backMs = 3_600_000; // the limit itself starts over after a step of more than its period
    expect(await limiter.consume('u')).toMatchObject({ allowed: true });
    expect(calls.count).toBe(4);
  });

  it('holds at most maxKeys denials: past it the oldest is forgotten', async () => {
    const { store, calls } = remote();
    const limiter = rateLimiter({
      algorithm: fixedWindow({ limit: 1, windowMs: 60_000 }),
      store,
      clock: new FakeClock(),
      denialCache: { maxKeys: 2 },
    });
    for (const key of ['a', 'b', 'c']) await limiter.consume(key);
    for (const key of ['a', 'b', 'c']) await limiter.consume(key); // denied, cached; 'a' is then the oldest
    expect(calls.count).toBe(6);
    for (const key of ['b', 'c']) expect((await limiter.consume(key)).allowed).toBe(false);
    expect(calls.count).toBe(6);
    expect((await limiter.consume('a')).allowed).toBe(false);
    expect(calls.count).toBe(7);
  });

  it('is off with denialCache: false, and never used over the in-process memory store', async () => {
    const { store, calls } = remote();
    const off = rateLimiter({ algorithm: bucket(), store, clock: new FakeClock(), denialCache: false });
    for (let i = 0; i < 5; i++) await off.consume('u');
    expect(calls.count).toBe(5);
    const local = rateLimiter({ algorithm: bucket(), store: memoryStore(), clock: new FakeClock() });
    for (let i = 0; i < 5; i++) await local.consume('u');
    expect(local.stats.cachedDenials).toBe(0);
  });

  it('does not cache a denial a fallback store made while the store was away', async () => {
    const { store, calls } = remote();
    const away = { on: true };
    const flaky: Store = {
      ...store,
      apply: (key, t, input, now) =>
        away.on ? Promise.reject(new StoreUnavailableError('down')) : store.apply(key, t, input, now),
    };
    const limiter = rateLimiter({
      algorithm: bucket(),
      store: flaky,
      clock: new FakeClock(),
      onStoreError: memoryStore(),
    });
    for (let i = 0; i < 3; i++) await limiter.consume('u');
    expect(await limiter.consume('u')).toMatchObject({ allowed: false, degraded: true });
    away.on = false;
    expect((await limiter.consume('u')).allowed).toBe(true);
    expect(calls.count).toBe(1);
    expect(limiter.stats.cachedDenials).toBe(0);
  });

  it('defaults to 10 000 keys and refuses a bad bound, naming it', () => {
    expect(RATE_LIMITER_DEFAULTS.denialCache).toEqual({ maxKeys: 10_000 });
    const { store } = remote();
    for (const denialCache of [{ maxKeys: 0 }, { maxKeys: 1.5 }, { max: 3 }, true, 'yes']) {
      expect(() => rateLimiter({ algorithm: bucket(), store, denialCache: denialCache as never })).toThrow(
        ConfigurationError,
      );
    }
    expect(() => rateLimiter({ algorithm: bucket(), store, denialCache: { maxKeys: 0 } })).toThrow(
      /denialCache\.maxKeys/,
    );
  });
});
