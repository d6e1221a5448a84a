import { describe, expect, it, vi } from 'vitest';
import { FakeClock } from '../clock/fake-clock.js';
import { ConfigurationError, RateLimitExceededError } from '../errors/errors.js';
import { pipeline } from '../pipeline/pipeline.js';
import { backoff } from '../retry/backoff.js';
import { retry } from '../retry/retry.js';
import { MemoryStore, memoryStore } from '../store/memory.js';
import { MEMORY_STORE_DEFAULTS } from '../store/options.js';
import type { Store } from '../store/store.js';
import { jsonRoundTripStore } from '../testing/json-round-trip-store.js';
import { storeOver } from '../testing/store-over.js';
import { timeout } from '../timeout/timeout.js';
import { gcra } from './gcra.js';
import { rateLimiter } from './limiter.js';
import { RATE_LIMITER_DEFAULTS } from './options.js';
import { TOKEN_BUCKET_DEFAULTS, tokenBucket } from './token-bucket.js';
import { fixedWindow, slidingWindow } from './windows.js';

const bucket = (capacity: number, refillPerSecond: number) => tokenBucket({ capacity, refillPerSecond });

/** A store that answers asynchronously (as Redis would), over a memory store. */
function asyncStore(): Store {
  const inner = memoryStore();
  const later = <T>(p: Promise<T>) => p.then((v) => new Promise<T>((resolve) => setImmediate(() => resolve(v))));
  return {
    apply: (key, t, input, now) => later(inner.apply(key, t, input, now)),
    applyAll: (ops, now) => later(inner.applyAll(ops, now)),
    get: (key, now) => later(inner.get(key, now)),
    set: (key, state, ttlMs, now) => later(inner.set(key, state, ttlMs, now)),
    delete: (key) => later(inner.delete(key)),
    keys: (prefix, now, options) => later(inner.keys(prefix, now, options)),
  };
}

describe('rateLimiter', () => {
  it('pins its defaults', () => {
    expect(RATE_LIMITER_DEFAULTS).toEqual({
      name: 'rateLimiter',
      maxWaitMs: 60_000,
      maxWaiters: 10_000,
      onStoreError: 'open',
      denialCache: { maxKeys: 10_000 },
    });
    expect(TOKEN_BUCKET_DEFAULTS).toEqual({ capacity: 60, refillPerSecond: 1 });
    expect(MEMORY_STORE_DEFAULTS).toEqual({ maxKeys: 100_000 });
  });

  it('admits 60 a minute by default and denies the 61st with a result, not an exception', async () => {
    const clock = new FakeClock();
    const limiter = rateLimiter({ algorithm: tokenBucket(), clock });
    for (let i = 0; i < 60; i++) expect((await limiter.consume('u')).allowed).toBe(true);
    expect(await limiter.consume('u')).toEqual({
      allowed: false,
      limit: 60,
      remaining: 0,
      resetMs: 60_000,
      retryAfterMs: 1000,
    });
    expect((await limiter.consume('other')).allowed).toBe(true);
  });

  it('answers synchronously over the memory store with consumeSync, sharing state and stats with consume', async () => {
    const limiter = rateLimiter({ algorithm: bucket(2, 1), clock: new FakeClock() });
    expect(limiter.synchronous).toBe(true);
    expect(limiter.consumeSync('u').allowed).toBe(true);
    expect((await limiter.consume('u')).allowed).toBe(true);
    expect(limiter.consumeSync('u')).toMatchObject({ allowed: false, retryAfterMs: 1000 });
    expect(limiter.stats).toMatchObject({ requests: 3, allowed: 2, blocked: 1 });
    expect(() => limiter.consumeSync('u', 3)).toThrow(ConfigurationError);
    const remote = rateLimiter({ algorithm: bucket(2, 1), store: asyncStore() });
    expect(remote.synchronous).toBe(false);
    expect(() => remote.consumeSync('u')).toThrow(TypeError);
  });

  it('answers synchronously over a memory store of another copy of core (an ESM app requiring the CJS entry too)', () => {
    return import('../store/memory.js?copy' as string).then((copy: typeof import('../store/memory.js')) => {
      const store = copy.memoryStore();
      expect(store).not.toBeInstanceOf(MemoryStore); // another copy of the class
      const limiter = rateLimiter({ algorithm: bucket(2, 1), store, clock: new FakeClock() });
      expect(limiter.synchronous).toBe(true);
      expect([limiter.consumeSync('u').allowed, limiter.consumeSync('u').allowed]).toEqual([true, true]);
      expect(limiter.consumeSync('u')).toMatchObject({ allowed: false, retryAfterMs: 1000 });
      // A wrapper has the Store methods but not the store's own: not taken for one.
      for (const wrapper of [storeOver(store), { ...store, ...storeOver(store) }]) {
        expect(rateLimiter({ algorithm: bucket(2, 1), store: wrapper }).synchronous).toBe(false);
      }
    });
  });

  it('peeks synchronously over the memory store with peekSync, without consuming or counting', async () => {
    const limiter = rateLimiter({ algorithm: bucket(2, 1), clock: new FakeClock() });
    expect(limiter.peekSync('u')).toEqual(await limiter.peek('u'));
    limiter.consumeSync('u');
    expect(limiter.peekSync('u')).toMatchObject({ allowed: true, limit: 2, remaining: 1 });
    expect(limiter.peekSync('u', 2)).toMatchObject({ allowed: false, remaining: 1, retryAfterMs: 1000 });
    expect(limiter.stats.requests).toBe(1);
    expect(() => limiter.peekSync('u', 3)).toThrow(ConfigurationError);
    const remote = rateLimiter({ algorithm: bucket(2, 1), store: asyncStore() });
    expect(() => remote.peekSync('u')).toThrow(TypeError);
  });

  it('rejects a cost above what the algorithm can ever admit with ConfigurationError naming cost', async () => {
    const limiter = rateLimiter({ algorithm: [bucket(5, 1), fixedWindow({ limit: 3, windowMs: 1000 })] });
    for (const call of [
      () => limiter.consume('k', 4),
      () => limiter.peek('k', 4),
      () => limiter.wait('k', { cost: 4 }),
    ]) {
      const error = await call().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ConfigurationError);
      expect((error as ConfigurationError).issues[0]?.option).toBe('cost');
    }
    await expect(limiter.consume('k', -1)).rejects.toThrow(/cost/);
    await expect(limiter.consume('k', Number.NaN)).rejects.toThrow(/cost/);
    expect((await limiter.consume('k', 3)).allowed).toBe(true);
  });

  it('throws ConfigurationError naming every bad option at construction', () => {
    expect(() => rateLimiter({ algorithm: {} as never, maxWaitMs: -1, name: '' })).toThrow(
      /algorithm.*name.*maxWaitMs|algorithm[\s\S]*maxWaitMs/,
    );
    expect(() => rateLimiter({ algorithm: bucket(1, 1), maxWaiters: 1.5 })).toThrow(/maxWaiters/);
    expect(() => tokenBucket({ capacity: 0, refillPerSecond: -1 })).toThrow(/capacity[\s\S]*refillPerSecond/);
    expect(() => gcra({ limit: 0, periodMs: 0 })).toThrow(/limit[\s\S]*periodMs/);
    expect(() => slidingWindow({ limit: 1 } as never)).toThrow(/windowMs/);
  });

  it('peeks without consuming and resets a key', async () => {
    const limiter = rateLimiter({ algorithm: bucket(2, 1), clock: new FakeClock() });
    expect((await limiter.peek('k')).remaining).toBe(2);
    await limiter.consume('k', 2);
    expect(await limiter.peek('k')).toMatchObject({ allowed: false, remaining: 0, retryAfterMs: 1000 });
    await limiter.reset('k');
    expect((await limiter.peek('k')).remaining).toBe(2);
  });

  it('applies several limits all-or-nothing and reports the most restrictive', async () => {
    const clock = new FakeClock();
    const limiter = rateLimiter({
      algorithm: [fixedWindow({ limit: 2, windowMs: 1000 }), fixedWindow({ limit: 3, windowMs: 3_600_000 })],
      clock,
    });
    expect(await limiter.consume('k')).toMatchObject({ allowed: true, remaining: 1, limit: 2 });
    await limiter.consume('k');
    // A denial describes the refusing limit alone (its limit and reset), as a RateLimit header pairs them.
    expect(await limiter.consume('k')).toMatchObject({ allowed: false, limit: 2, retryAfterMs: 1000, resetMs: 1000 });
    await clock.advance(1000);
    expect(await limiter.consume('k')).toMatchObject({ allowed: true, remaining: 0, limit: 3 });
    await clock.advance(1000);
    expect(await limiter.consume('k')).toMatchObject({ allowed: false, retryAfterMs: 3_600_000 - 2000 });
    await limiter.reset('k');
    expect((await limiter.consume('k')).allowed).toBe(true);
  });

  it('keeps each limit’s own decision beside the combined one, for one RateLimit item per limit', async () => {
    const clock = new FakeClock();
    const second = fixedWindow({ limit: 2, windowMs: 1000 });
    const hour = fixedWindow({ limit: 3, windowMs: 3_600_000 });
    const limiter = rateLimiter({ algorithm: [second, hour], clock });
    expect(limiter.algorithms).toEqual([second, hour]);
    const first = await limiter.consume('k');
    expect(first.limits).toMatchObject([
      { allowed: true, limit: 2, remaining: 1 },
      { allowed: true, limit: 3, remaining: 2 },
    ]);
    await limiter.consume('k');
    const denied = await limiter.consume('k');
    expect(denied).toMatchObject({ allowed: false, limit: 2 });
    expect(denied.limits?.map((d) => d.allowed)).toEqual([false, true]);
    const single = rateLimiter({ algorithm: second, clock });
    expect(single.algorithms).toEqual([second]);
    expect((await single.consume('k')).limits).toBeUndefined();
  });

  it('works the same over an asynchronous store', async () => {
    const clock = new FakeClock();
    const limiter = rateLimiter({
      algorithm: [bucket(2, 1), gcra({ limit: 10, periodMs: 1000 })],
      store: asyncStore(),
      clock,
    });
    const results = await Promise.all([limiter.consume('k'), limiter.consume('k'), limiter.consume('k')]);
    expect(results.map((d) => d.allowed)).toEqual([true, true, false]);
    const single = rateLimiter({ algorithm: bucket(1, 1), store: asyncStore(), clock });
    expect((await single.consume('k')).allowed).toBe(true);
    expect((await single.peek('k')).allowed).toBe(false);
    await single.reset('k');
    expect((await single.consume('k')).allowed).toBe(true);
  });

  it('keeps limiters sharing a store apart by prefix', async () => {
    const store = memoryStore();
    const a = rateLimiter({ algorithm: bucket(1, 1), store, name: 'a' });
    const b = rateLimiter({ algorithm: bucket(1, 1), store, name: 'b' });
    expect((await a.consume('k')).allowed).toBe(true);
    expect((await b.consume('k')).allowed).toBe(true);
    expect((await a.consume('k')).allowed).toBe(false);
    expect((await store.keys('', 0)).sort()).toEqual(['{rl:a|k}', '{rl:b|k}']);
  });

  it('keeps several limits of one key after its hash tag, in a shared memory store and any other', async () => {
    for (const store of [memoryStore(), jsonRoundTripStore(memoryStore())]) {
      const clock = new FakeClock();
      const limits = [bucket(1, 1), gcra({ limit: 2, periodMs: 1_000 })];
      const limiter = rateLimiter({ algorithm: limits, store, name: 'api', clock });
      expect((await limiter.consume('u')).allowed).toBe(true);
      expect((await limiter.consume('u')).allowed).toBe(false);
      expect((await store.keys('', 0)).sort()).toEqual(['{rl:api|u}|0.tokenBucket', '{rl:api|u}|1.gcra']);
      await limiter.reset('u');
      expect(await store.keys('', 0)).toEqual([]);
    }
  });

  for (const [name, algorithm] of [
    ['tokenBucket', () => bucket(1000, 1)],
    ['gcra', () => gcra({ limit: 1000, periodMs: 60_000 })],
    ['fixedWindow', () => fixedWindow({ limit: 1000, windowMs: 60_000 })],
    ['slidingWindow', () => slidingWindow({ limit: 1000, windowMs: 60_000 })],
  ] as const) {
    it(`${name}: 10 000 concurrent consumes on one key of limit 1 000 admit exactly 1 000`, async () => {
      const limiter = rateLimiter({ algorithm: algorithm(), clock: new FakeClock(5) });
      const decisions = await Promise.all(Array.from({ length: 10_000 }, () => limiter.consume('k')));
      expect(decisions.filter((d) => d.allowed)).toHaveLength(1000);
      expect(limiter.stats).toMatchObject({ requests: 10_000, allowed: 1000, blocked: 9000 });
    });
  }

  it('reads another algorithm’s state on a shared name as absent, never as NaN', async () => {
    // Two unnamed limiters share the default name, so the same keys, on one store.
    for (const store of [memoryStore(), jsonRoundTripStore(memoryStore())]) {
      const clock = new FakeClock();
      await rateLimiter({ algorithm: fixedWindow({ limit: 100, windowMs: 60_000 }), store, clock }).consume('u1');
      const other = rateLimiter({ algorithm: bucket(10, 1), store, clock });
      expect(await other.consume('u1')).toEqual({
        allowed: true,
        limit: 10,
        remaining: 9,
        resetMs: 1000,
        retryAfterMs: 0,
      });
    }
  });

  it('reports denials as events only to listeners', async () => {
    const limiter = rateLimiter({ algorithm: bucket(1, 1), name: 'api', clock: new FakeClock() });
    const events: unknown[] = [];
    await limiter.consume('k');
    await limiter.consume('k');
    const dispose = limiter.onEvent((e) => events.push(e));
    await limiter.consume('k');
    dispose();
    await limiter.consume('k');
    expect(events).toEqual([{ type: 'rate_limited', policy: 'api', key: 'k', retryAfterMs: 1000 }]);
  });
});

describe('rateLimiter.wait', () => {
  it('refuses an option it does not know, naming it, and takes nothing (wait and execute)', async () => {
    const limiter = rateLimiter({ algorithm: bucket(2, 1), clock: new FakeClock() });
    const error = await limiter.wait('k', { maxwait: 5 } as never).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as Error).message).toMatch(/maxwait.*did you mean maxWaitMs\?/);
    let ran = false;
    await expect(
      limiter.execute(
        'k',
        () => {
          ran = true;
        },
        { cots: 1 } as never,
      ),
    ).rejects.toThrow(/cots/);
    expect(ran).toBe(false);
    expect(await limiter.consume('k', 2)).toMatchObject({ allowed: true });
  });

  it('resolves at once when the cost fits', async () => {
    const limiter = rateLimiter({ algorithm: bucket(2, 1), clock: new FakeClock() });
    expect(await limiter.wait('k', { cost: 2 })).toMatchObject({ allowed: true, remaining: 0 });
  });

  it('takes the cost as soon as it can, in FIFO order per key', async () => {
    const clock = new FakeClock();
    const limiter = rateLimiter({ algorithm: bucket(2, 1), clock });
    await limiter.consume('k', 2);
    const order: string[] = [];
    const first = limiter.wait('k', { cost: 2 }).then(() => order.push(`a@${clock.now()}`));
    const second = limiter.wait('k', { cost: 1 }).then(() => order.push(`b@${clock.now()}`));
    const other = limiter.wait('other').then(() => order.push(`c@${clock.now()}`));
    await clock.advance(999);
    expect(order).toEqual(['c@0']);
    await clock.advance(1001);
    expect(order).toEqual(['c@0', 'a@2000']);
    await clock.advance(1000);
    await Promise.all([first, second, other]);
    expect(order).toEqual(['c@0', 'a@2000', 'b@3000']);
    expect(limiter.stats).toMatchObject({ requests: 4, allowed: 4, blocked: 0, totalWaitMs: 5000 });
  });

  it('rejects with RateLimitExceededError carrying retryAfterMs when the wait would exceed maxWaitMs', async () => {
    const clock = new FakeClock();
    const limiter = rateLimiter({ algorithm: bucket(1, 1), clock, maxWaitMs: 1500 });
    await limiter.consume('k');
    const head = limiter.wait('k');
    const tooLong = limiter.wait('k', { maxWaitMs: 500 }).catch((e: unknown) => e);
    const error = await tooLong;
    expect(error).toBeInstanceOf(RateLimitExceededError);
    expect((error as RateLimitExceededError).retryAfterMs).toBe(1000);
    const behind = limiter.wait('k').catch((e: unknown) => e);
    await clock.advance(1000);
    await head;
    expect(await behind).toBeInstanceOf(RateLimitExceededError);
    expect(clock.now()).toBe(1000);
    // The head waited 1 000 ms, `tooLong` 0 ms, `behind` 1 000 ms before it was given up.
    expect(limiter.stats).toMatchObject({ requests: 4, blocked: 2, allowed: 2, totalWaitMs: 2000 });
  });

  it('rejects an invalid maxWaitMs or cost of one wait with ConfigurationError naming each', async () => {
    const limiter = rateLimiter({ algorithm: bucket(2, 1), clock: new FakeClock() });
    for (const options of [{ maxWaitMs: -1 }, { maxWaitMs: Number.NaN }, { maxWaitMs: Number.POSITIVE_INFINITY }]) {
      const error = await limiter.wait('k', options).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ConfigurationError);
      expect((error as ConfigurationError).issues.map((i) => i.option)).toEqual(['maxWaitMs']);
    }
    const both = await limiter.wait('k', { cost: 3, maxWaitMs: -1 }).catch((e: unknown) => e);
    expect((both as ConfigurationError).issues.map((i) => i.option)).toEqual(['cost', 'maxWaitMs']);
    expect(limiter.stats.requests).toBe(0);
  });

  it('holds at most maxWaiters waiting calls; past it a call is tried once and rejected if refused', async () => {
    const clock = new FakeClock();
    const limiter = rateLimiter({ algorithm: bucket(1, 1), clock, maxWaiters: 2 });
    await limiter.consume('a');
    const waiting = [limiter.wait('a'), limiter.wait('a')];
    const full = await limiter.wait('a').catch((e: unknown) => e);
    expect(full).toBeInstanceOf(RateLimitExceededError);
    expect((full as RateLimitExceededError).retryAfterMs).toBe(1000);
    // Another key is still served when it need not wait, and refused at once when it must.
    expect(await limiter.wait('b')).toMatchObject({ allowed: true });
    const refused = await limiter.wait('b').catch((e: unknown) => e);
    expect((refused as RateLimitExceededError).retryAfterMs).toBe(1000);
    await clock.advance(2000);
    expect((await Promise.all(waiting)).map((d) => d.allowed)).toEqual([true, true]);
    const again = limiter.wait('a'); // the served waiters no longer count
    await clock.advance(1000);
    expect((await again).allowed).toBe(true);
    expect(limiter.stats).toMatchObject({ blocked: 2 });
  });

  it('never waits for a limit with maxWaitMs 0', async () => {
    const limiter = rateLimiter({ algorithm: bucket(1, 1), clock: new FakeClock() });
    await limiter.consume('k');
    await expect(limiter.wait('k', { maxWaitMs: 0 })).rejects.toBeInstanceOf(RateLimitExceededError);
  });

  it('is abortable: rejects with the reason, consumes nothing, and lets the next waiter go', async () => {
    const clock = new FakeClock();
    const limiter = rateLimiter({ algorithm: bucket(1, 1), clock });
    await limiter.consume('k');
    const controller = new AbortController();
    const aborted = limiter.wait('k', { signal: controller.signal }).catch((e: unknown) => e);
    const next = limiter.wait('k');
    await clock.advance(500);
    controller.abort(new Error('gone'));
    expect(((await aborted) as Error).message).toBe('gone');
    await clock.advance(500);
    expect(await next).toMatchObject({ allowed: true, remaining: 0 });
    expect(clock.pendingTimers).toBe(0);
    expect(limiter.stats).toMatchObject({ aborted: 1 });
    await expect(limiter.wait('k', { signal: AbortSignal.abort(new Error('early')) })).rejects.toThrow('early');
  });

  it('as a policy under a timeout, makes no AbortController for a call that need not wait', async () => {
    const clock = new FakeClock();
    const limiter = rateLimiter({ algorithm: bucket(2, 1), clock });
    const policy = pipeline(timeout(5_000, { clock }), limiter.policy({ key: 'k' }));
    let made = 0;
    vi.stubGlobal(
      'AbortController',
      class extends AbortController {
        constructor() {
          super();
          made++;
        }
      },
    );
    try {
      expect(await Promise.all([policy.execute(() => 1), policy.execute(() => 2)])).toEqual([1, 2]);
      expect(made).toBe(0);
      const third = policy.execute(({ signal }) => signal.aborted); // must wait a second: follows its signal
      await clock.advance(1_000);
      expect(await third).toBe(false);
      expect(made).toBe(1);
    } finally {
      vi.unstubAllGlobals();
    }
    expect(limiter.stats).toMatchObject({ requests: 3, allowed: 3, blocked: 0 });
  });

  it('keeps its own copy of the algorithm list', async () => {
    const limits = [bucket(10, 1), fixedWindow({ limit: 100, windowMs: 60_000 })];
    const store = memoryStore();
    const limiter = rateLimiter({ algorithm: limits, store, prefix: 'api' });
    limits.push(fixedWindow({ limit: 1, windowMs: 60_000 }));
    await limiter.consume('u');
    expect(limiter.algorithms).toHaveLength(2);
    expect(Object.isFrozen(limiter.algorithms)).toBe(true);
    expect(await store.keys('', 0)).toEqual(['{rl:api|u}|0.tokenBucket', '{rl:api|u}|1.fixedWindow']);
  });

  it('records nothing for a signal that had aborted already, as every policy', async () => {
    const limiter = rateLimiter({ algorithm: bucket(1, 1), clock: new FakeClock() });
    const signal = AbortSignal.abort(new Error('early'));
    await expect(limiter.policy({ key: 'k' }).execute(() => 1, signal)).rejects.toThrow('early');
    await expect(limiter.execute('k', () => 1, { signal })).rejects.toThrow('early');
    expect(limiter.stats).toMatchObject({ requests: 0, aborted: 0 });
  });

  it('rejects a waiter with the store error and serves the next', async () => {
    const clock = new FakeClock();
    let failures = 1;
    const inner = memoryStore();
    const flaky: Store = {
      ...asyncStore(),
      apply: (key, t, input, now) =>
        failures-- > 0 ? Promise.reject(new Error('store down')) : inner.apply(key, t, input, now),
    };
    const limiter = rateLimiter({ algorithm: bucket(1, 1), store: flaky, clock });
    const first = limiter.wait('k').catch((e: unknown) => e);
    const second = limiter.wait('k');
    expect(((await first) as Error).message).toBe('store down');
    expect((await second).allowed).toBe(true);
  });

  it('rejects a waiter aborted while the store call is in flight, and gives what the store took to the next', async () => {
    const clock = new FakeClock();
    const limiter = rateLimiter({ algorithm: bucket(1, 1), store: asyncStore(), clock });
    const controller = new AbortController();
    const aborted = limiter.wait('k', { signal: controller.signal }).catch((e: unknown) => e);
    const next = limiter.wait('k', { maxWaitMs: 5000 });
    controller.abort(new Error('stop'));
    expect(((await aborted) as Error).message).toBe('stop');
    expect((await next).allowed).toBe(true);
    expect(clock.now()).toBe(0); // not a refill later
  });

  it('waits over an asynchronous store too', async () => {
    const clock = new FakeClock();
    const limiter = rateLimiter({ algorithm: bucket(1, 1), store: asyncStore(), clock });
    await limiter.consume('k');
    const waited = limiter.wait('k');
    await clock.advance(0); // the store answers after the denial was decided at 0 ms
    await new Promise((resolve) => setImmediate(resolve));
    await clock.advance(1000);
    expect((await waited).allowed).toBe(true);
    expect(clock.now()).toBe(1000);
  });
});

describe('rateLimiter.execute and policy', () => {
  it('runs the function once the key admits it', async () => {
    const clock = new FakeClock();
    const limiter = rateLimiter({ algorithm: bucket(1, 1), clock });
    expect(await limiter.execute('k', ({ attempt }) => `ran ${attempt}`)).toBe('ran 1');
    const later = limiter.execute('k', () => clock.now());
    await clock.advance(1000);
    expect(await later).toBe(1000);
  });

  it('rejects invalid policy options at construction with ConfigurationError naming each', () => {
    const limiter = rateLimiter({ algorithm: bucket(2, 1) });
    let error: unknown;
    try {
      limiter.policy({ key: '', cost: 3, maxWaitMs: -1 });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as ConfigurationError).issues.map((i) => i.option)).toEqual(['cost', 'maxWaitMs', 'key']);
    expect(() => limiter.policy({ key: 'k', cost: 2 })).not.toThrow();
  });

  it('throttles every attempt of a retry inside a pipeline', async () => {
    const clock = new FakeClock();
    const limiter = rateLimiter({ algorithm: bucket(1, 1), clock });
    const policy = pipeline(
      retry({ maxAttempts: 2, backoff: backoff.constant(0), handle: () => true, clock }),
      limiter.policy({ key: 'provider' }),
    );
    const calls: number[] = [];
    const done = policy.execute(({ attempt }) => {
      calls.push(clock.now());
      if (attempt === 1) throw new Error('flaky');
      return attempt;
    });
    await clock.advance(1000);
    expect(await done).toBe(2);
    expect(calls).toEqual([0, 1000]);
  });

  it('is a policy with a fixed key or a key function', async () => {
    const clock = new FakeClock();
    const limiter = rateLimiter({ algorithm: bucket(1, 1), clock });
    const policy = limiter.policy({ key: 'provider', maxWaitMs: 0 });
    expect(policy.name).toBe('rateLimiter');
    expect(await policy.execute(() => 1)).toBe(1);
    await expect(policy.execute(() => 2)).rejects.toBeInstanceOf(RateLimitExceededError);
    const wrapped = limiter.policy({ key: (ctx) => `attempt-${ctx.attempt}` }).wrap((a: number, b: number) => a + b);
    expect(await wrapped(2, 3)).toBe(5);
    const viaRun = limiter.policy({ key: () => 'run' });
    const controller = new AbortController();
    expect(
      await viaRun.run(({ signal }) => signal === controller.signal, { signal: controller.signal, attempt: 2 }),
    ).toBe(true);
  });
});
