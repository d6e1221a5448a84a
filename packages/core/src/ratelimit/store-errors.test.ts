/** What a limiter decides when its store fails: `onStoreError` 'open' (the default), 'closed', or a fallback store. */
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../clock/fake-clock.js';
import { ConfigurationError, StoreUnavailableError } from '../errors/errors.js';
import { memoryStore } from '../store/memory.js';
import type { Store } from '../store/store.js';
import { gcra } from './gcra.js';
import { type RateLimitEvent, rateLimiter } from './limiter.js';
import { RATE_LIMITER_DEFAULTS } from './options.js';
import { tokenBucket } from './token-bucket.js';

/** A store that rejects with `error()` while `away` is set (a networked store whose server is down). */
function outage(error: () => Error = () => new StoreUnavailableError('redisStore: connection refused')) {
  const base = memoryStore();
  const state = { away: false };
  const store: Store = {
    apply: (key, t, input, now) => (state.away ? Promise.reject(error()) : base.apply(key, t, input, now)),
    applyAll: (ops, now) => (state.away ? Promise.reject(error()) : base.applyAll(ops, now)),
    get: (key, now) => base.get(key, now),
    set: (key, v, ttlMs, now) => base.set(key, v, ttlMs, now),
    delete: (key) => base.delete(key),
    keys: (prefix, now, options) => base.keys(prefix, now, options),
  };
  return { store, state };
}

const oneToken = () => tokenBucket({ capacity: 1, refillPerSecond: 1 / 3_600 });

describe('rateLimiter onStoreError', () => {
  it("defaults to 'open': a request passes with degraded: true, counted, reported at most once a minute", async () => {
    expect(RATE_LIMITER_DEFAULTS.onStoreError).toBe('open');
    const { store, state } = outage();
    const clock = new FakeClock();
    const limiter = rateLimiter({ algorithm: [oneToken(), gcra({ limit: 5, periodMs: 1_000 })], store, clock });
    const events: RateLimitEvent[] = [];
    limiter.onEvent((e) => events.push(e));
    state.away = true;
    const passed = {
      allowed: true,
      limit: 1,
      remaining: 1,
      resetMs: 0,
      retryAfterMs: 0,
      degraded: true,
      uncounted: true,
    };
    expect(await limiter.consume('u')).toEqual(passed);
    expect(await limiter.consume('u')).toEqual(passed);
    expect(await limiter.peek('u')).toEqual(passed);
    expect(await limiter.wait('u')).toEqual(passed);
    await clock.advance(60_000);
    await limiter.consume('u');
    expect(limiter.stats).toMatchObject({ requests: 4, allowed: 4, blocked: 0, storeErrors: 5 });
    expect(events.map((e) => e.type === 'store_error' && [e.key, e.unreported, e.error.message])).toEqual([
      ['u', 0, 'redisStore: connection refused'],
      ['u', 3, 'redisStore: connection refused'],
    ]);
    state.away = false;
    const back = await limiter.consume('u');
    expect([back.allowed, back.remaining, back.degraded]).toEqual([true, 0, undefined]);
  });

  it("'closed': the call rejects with the store's error", async () => {
    const { store, state } = outage();
    const limiter = rateLimiter({ algorithm: oneToken(), store, onStoreError: 'closed' });
    state.away = true;
    await expect(limiter.consume('u')).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(limiter.wait('u')).rejects.toBeInstanceOf(StoreUnavailableError);
    expect(limiter.stats).toMatchObject({ storeErrors: 2, allowed: 0 });
  });

  it('a fallback store decides while the store is away: per-instance limits, degraded', async () => {
    const { store, state } = outage();
    const clock = new FakeClock();
    const limiter = rateLimiter({ algorithm: oneToken(), store, onStoreError: memoryStore(), clock });
    state.away = true;
    const fallback = await limiter.consume('u');
    expect(fallback).toMatchObject({ allowed: true, degraded: true });
    expect(fallback).not.toHaveProperty('uncounted'); // the fallback store counted it
    expect(await limiter.consume('u')).toMatchObject({ allowed: false, degraded: true, retryAfterMs: 3_600_000 });
    state.away = false;
    expect(await limiter.consume('u')).toMatchObject({ allowed: true });
    expect((await limiter.consume('u')).degraded).toBeUndefined();
  });

  it('a store that throws its failure instead of rejecting with it is decided the same way, one limit or several', async () => {
    const fail = () => {
      throw new StoreUnavailableError('connection is closed');
    };
    const throwing: Store = { apply: fail, applyAll: fail, get: fail, set: fail, delete: fail, keys: fail };
    const one = rateLimiter({ algorithm: oneToken(), store: throwing });
    expect(await one.consume('u')).toMatchObject({ allowed: true, degraded: true });
    const two = rateLimiter({ algorithm: [oneToken(), gcra({ limit: 5, periodMs: 1_000 })], store: throwing });
    expect(await two.consume('u')).toMatchObject({ allowed: true, degraded: true });
    const closed = rateLimiter({ algorithm: oneToken(), store: throwing, onStoreError: 'closed' });
    await expect(closed.consume('u')).rejects.toBeInstanceOf(StoreUnavailableError);
    expect([one.stats.storeErrors, two.stats.storeErrors, closed.stats.storeErrors]).toEqual([1, 1, 1]);
  });

  it('lets errors that are not a store failure through (a TypeError is a bug, not an outage)', async () => {
    const { store, state } = outage(() => new TypeError('no script for ratelimit.tokenBucket'));
    const limiter = rateLimiter({ algorithm: oneToken(), store });
    state.away = true;
    await expect(limiter.consume('u')).rejects.toBeInstanceOf(TypeError);
    expect(limiter.stats.storeErrors).toBe(0);
  });

  it('rejects an onStoreError that is not open, closed or a store, naming it', () => {
    expect(() => rateLimiter({ algorithm: oneToken(), onStoreError: 'fail' as never })).toThrow(ConfigurationError);
    expect(() => rateLimiter({ algorithm: oneToken(), onStoreError: {} as never })).toThrow(/onStoreError: /);
  });
});
