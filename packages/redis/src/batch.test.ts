/**
 * Concurrent rate-limit decisions share one script call: what one tick produces goes out
 * together, each decision still exactly what it would be alone, in the order made.
 */
import {
  type Clock,
  isStoreUnavailableError,
  type RateLimitDecision,
  rateLimiter,
  storeKey,
  storeNamespace,
  tokenBucket,
} from '@resilience/core';
import { FakeClock } from '@resilience/core/testing';
import { Redis } from 'ioredis';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_BATCH, SPLIT_AT } from './store.js';
import { useServer } from './testing/fixture.js';
import { type Monitor, monitor } from './testing/monitor.js';
import { redisStore } from './testing/untimed.js';

const fixture = useServer();
let watch: Monitor;
let nodeRedis: ReturnType<typeof createClient>;

beforeAll(async () => {
  watch = await monitor(new Redis({ port: fixture.server.port, host: '127.0.0.1' }));
  nodeRedis = createClient({ socket: { port: fixture.server.port, host: '127.0.0.1' } });
  await nodeRedis.connect();
});

afterAll(async () => {
  watch?.stop();
  await nodeRedis?.close();
});

const ns = storeNamespace('test', 'batch');
const kinds = (commands: readonly string[]) => commands.map((c) => c.split(' ')[0]);

describe.each([
  ['ioredis', () => fixture.client as object],
  ['node-redis', () => nodeRedis as object],
])('redisStore batches concurrent decisions (%s)', (_, client) => {
  it('a burst of 100 consumes of one key with limit 20 admits exactly 20, in two script calls per MAX_BATCH', async () => {
    const limiter = rateLimiter({
      algorithm: tokenBucket({ capacity: 20, refillPerSecond: 1e-6 }),
      store: redisStore({ client: client(), timeoutMs: 10_000 }),
      name: 'burst',
      denialCache: false,
    });
    await Promise.all([limiter.consume('warm'), limiter.consume('warm')]); // the script is loaded
    let decisions: RateLimitDecision[] = [];
    const commands = await watch.commands(async () => {
      decisions = await Promise.all(Array.from({ length: 100 }, () => limiter.consume('u')));
    });
    expect(decisions.filter((d) => d.allowed)).toHaveLength(20);
    expect(decisions.slice(0, 20).map((d) => d.remaining)).toEqual(Array.from({ length: 20 }, (_, i) => 19 - i));
    expect(decisions.slice(20).every((d) => !d.allowed && d.retryAfterMs > 0)).toBe(true);
    // MAX_BATCH waiting: sent at once, as two calls of half each; the rest at the end of the tick, two calls too.
    expect(100 - MAX_BATCH).toBeGreaterThanOrEqual(SPLIT_AT);
    expect(kinds(commands)).toEqual(['evalsha', 'evalsha', 'evalsha', 'evalsha']);
  });

  it('a burst of SPLIT_AT decisions or more goes out as two script calls of half each, one below it as one', async () => {
    const limiter = rateLimiter({
      algorithm: tokenBucket({ capacity: 100, refillPerSecond: 1e-6 }),
      store: redisStore({ client: client(), timeoutMs: 10_000 }),
      name: 'split',
      denialCache: false,
    });
    await Promise.all([limiter.consume('warm'), limiter.consume('warm')]); // the script is loaded
    let decisions: RateLimitDecision[] = [];
    const below = await watch.commands(async () => {
      decisions = await Promise.all(Array.from({ length: SPLIT_AT - 1 }, () => limiter.consume('u')));
    });
    expect(kinds(below)).toEqual(['evalsha']);
    expect(decisions.map((d) => d.remaining)).toEqual(Array.from({ length: SPLIT_AT - 1 }, (_, i) => 99 - i));
    const from = await watch.commands(async () => {
      decisions = await Promise.all(Array.from({ length: SPLIT_AT + 1 }, () => limiter.consume('u')));
    });
    expect(kinds(from)).toEqual(['evalsha', 'evalsha']);
    // Still in order across the two calls: each decision sees every one made before it.
    expect(decisions.map((d) => d.remaining)).toEqual(
      Array.from({ length: SPLIT_AT + 1 }, (_, i) => 99 - (SPLIT_AT - 1) - i),
    );
  });

  it('a Redis error in one decision of a batch fails that decision alone', async () => {
    const store = redisStore({ client: client(), timeoutMs: 10_000 });
    const consume = tokenBucket({ capacity: 5 }).consume;
    const [a, b, c] = [storeKey(ns, 'a'), storeKey(ns, 'b'), storeKey(ns, 'c')];
    await fixture.client.lpush(`resilience:${b}`, 'x');
    await store.apply(a, consume, 0, 0);
    let outcomes: unknown[] = [];
    const commands = await watch.commands(async () => {
      outcomes = await Promise.all([a, b, c, a].map((k) => store.apply(k, consume, 1, 0).catch((e: unknown) => e)));
    });
    expect(kinds(commands)).toEqual(['evalsha']);
    expect(outcomes.map((o) => (o as RateLimitDecision).remaining)).toEqual([4, undefined, 4, 3]);
    expect(isStoreUnavailableError(outcomes[1])).toBe(true);
    expect((outcomes[1] as Error).message).toMatch(/^redisStore: apply of ratelimit\.tokenBucket failed: WRONGTYPE/);
    expect(await fixture.client.type(`resilience:${b}`)).toBe('list');
  });

  it('after SCRIPT FLUSH a batch is sent again once with EVAL, and every decision in it succeeds', async () => {
    const limiter = rateLimiter({
      algorithm: tokenBucket({ capacity: 10 }),
      store: redisStore({ client: client(), timeoutMs: 10_000 }),
      name: 'flush',
    });
    await Promise.all([limiter.consume('u'), limiter.consume('v')]);
    await fixture.client.script('FLUSH');
    let decisions: RateLimitDecision[] = [];
    const commands = await watch.commands(async () => {
      decisions = await Promise.all(['u', 'v', 'u', 'v'].map((k) => limiter.consume(k)));
    });
    expect(kinds(commands)).toEqual(['evalsha', 'eval']);
    expect(decisions.map((d) => d.remaining)).toEqual([8, 8, 7, 7]);
    expect(kinds(await watch.commands(() => Promise.all([limiter.consume('u'), limiter.consume('v')])))).toEqual([
      'evalsha',
    ]);
  });

  it('keeps call order: a get or a peek made after a consume in the same tick sees it', async () => {
    const store = redisStore({ client: client(), time: 'caller', timeoutMs: 10_000 });
    const bucket = tokenBucket({ capacity: 10 });
    const key = storeKey(ns, 'order');
    const warm = storeKey(ns, 'warm'); // every script is loaded (a NOSCRIPT answer is resent after what follows)
    await Promise.all([
      store.apply(warm, bucket.consume, 1, 0),
      store.apply(warm, bucket.peek, 1, 0),
      store.get(warm, 0),
    ]);
    const [first, state, peeked, second] = await Promise.all([
      store.apply(key, bucket.consume, 1, 1_000),
      store.get(key, 1_000),
      store.apply(key, bucket.peek, 1, 1_000),
      store.apply(key, bucket.consume, 1, 1_000),
    ]);
    expect([first.remaining, peeked.remaining, second.remaining]).toEqual([9, 9, 8]);
    expect(state).toEqual({ tokens: 9, at: 1_000 });
  });
});

/**
 * A clock `ahead(ms)` moves past the fake one it runs on, so two calls of one tick get
 * different deadlines; its timers are the fake clock's.
 */
function skewed() {
  const fake = new FakeClock();
  let by = 0;
  const clock: Clock = {
    now: () => fake.now() + by,
    setTimeout: (callback, ms) => fake.setTimeout(callback, ms),
    clearTimeout: (handle) => fake.clearTimeout(handle),
    sleep: (ms, signal) => fake.sleep(ms, signal),
  };
  return { fake, clock, ahead: (ms: number) => void (by = ms) };
}

describe('redisStore batches and deadlines', () => {
  it('a member that times out is rejected alone; the others of its script call get their decisions', async () => {
    const { fake, clock, ahead } = skewed();
    const store = redisStore({ client: fixture.client, timeoutMs: 200, clock });
    const consume = tokenBucket({ capacity: 5 }).consume;
    const [a, b] = [storeKey(ns, 'a'), storeKey(ns, 'b')];
    await store.apply(a, consume, 0, 0);
    let late: Promise<unknown> = Promise.resolve();
    const commands = await watch.commands(() =>
      fixture.whilePaused(async () => {
        const early = store.apply(a, consume, 1, 0).catch((e: unknown) => e); // deadline 200
        ahead(100);
        late = store.apply(b, consume, 2, 0); // deadline 300, same tick: the same script call
        ahead(0);
        await fake.advance(200);
        const error = await early;
        expect(isStoreUnavailableError(error)).toBe(true);
        expect((error as Error).message).toBe(
          'redisStore: apply of ratelimit.tokenBucket got no answer within 200 ms (timeoutMs)',
        );
      }),
    );
    expect(await late).toMatchObject({ allowed: true, remaining: 3 });
    expect(kinds(commands)).toEqual(['evalsha']);
    // The timed-out decision ran late on the server; its answer was dropped.
    expect(await store.apply(a, consume, 1, 0)).toMatchObject({ remaining: 3 });
  });

  it('after NOSCRIPT a batch is sent again with only its members still waiting: one that timed out is never sent again', async () => {
    const { fake, clock, ahead } = skewed();
    const store = redisStore({ client: fixture.client, timeoutMs: 200, clock });
    const consume = tokenBucket({ capacity: 5 }).consume;
    const [a, b] = [storeKey(ns, 'gone-a'), storeKey(ns, 'gone-b')];
    await store.apply(a, consume, 0, 0);
    await fixture.client.script('FLUSH');
    let late: Promise<unknown> = Promise.resolve();
    const commands = await watch.commands(async () => {
      await fixture.whilePaused(async () => {
        const early = store.apply(a, consume, 1, 0).catch((e: unknown) => e); // deadline 200
        ahead(100);
        late = store.apply(b, consume, 2, 0); // deadline 300, same tick: the same script call
        ahead(0);
        await fake.advance(200);
        expect(isStoreUnavailableError(await early)).toBe(true);
      });
      expect(await late).toMatchObject({ allowed: true, remaining: 3 }); // by the EVAL, alone
    });
    expect(kinds(commands)).toEqual(['evalsha', 'eval']);
    // The batch never ran (NOSCRIPT), and its caller was told the decision failed: nothing taken.
    expect(await store.apply(a, consume, 1, 0)).toMatchObject({ remaining: 4 });
  });
});
