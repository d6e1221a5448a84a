import { once } from 'node:events';
import {
  backoff,
  breakerTransition,
  type Clock,
  ConfigurationError,
  circuitBreaker,
  consecutive,
  fixedWindow,
  gcra,
  idempotency,
  isStoreUnavailableError,
  messageProcessor,
  type RateLimitAlgorithm,
  rateLimiter,
  slidingWindow,
  storeKey,
  storeNamespace,
  tokenBucket,
} from '@resilience/core';
import { FakeClock } from '@resilience/core/testing';
import { Redis } from 'ioredis';
import { createClient, RESP_TYPES } from 'redis';
import { afterAll, beforeAll, describe, expect, it, onTestFinished, vi } from 'vitest';
// Core keeps the workflows' transitions private; its conformance suite imports them the same way.
import { beginTransition } from '../../core/src/idempotency/record.js';
import { redisStore as entryRedisStore } from './index.js';
import { useServer } from './testing/fixture.js';
import { type Monitor, monitor } from './testing/monitor.js';
import { startRedis } from './testing/servers.js';
import { REDIS_STORE_DEFAULTS, redisStore } from './testing/untimed.js';

const fixture = useServer();
let watch: Monitor;

beforeAll(async () => {
  watch = await monitor(new Redis({ port: fixture.server.port, host: '127.0.0.1' }));
});

afterAll(() => watch?.stop());

const ns = storeNamespace('test', 'store');

describe('redisStore', () => {
  it('takes one round trip (one EVALSHA) per operation, and per decision of a limiter with one or several limits', async () => {
    const store = redisStore({ client: fixture.client });
    const single = rateLimiter({ algorithm: tokenBucket({ capacity: 5 }), store, name: 'single' });
    const several = rateLimiter({
      algorithm: [fixedWindow({ limit: 5, windowMs: 1_000 }), gcra({ limit: 100, periodMs: 60_000 })],
      store,
      name: 'several',
    });
    const records = idempotency({ store });
    const key = storeKey(ns, 'k');
    const operations: [string, () => Promise<unknown>][] = [
      ['consume', () => single.consume('u')],
      ['peek', () => single.peek('u')],
      ['consume of two limits (applyAll)', () => several.consume('u')],
      ['set', () => store.set(key, { a: 1 }, 1_000, 0)],
      ['get', () => store.get(key, 0)],
      ['delete', () => store.delete(key)],
    ];
    for (const [, run] of operations) await run(); // every script is loaded once
    for (const [what, run] of operations) {
      expect(await watch.commands(run), what).toEqual([expect.stringMatching(/^evalsha [0-9a-f]{40}$/)]);
    }
    // An idempotent call: one round trip to claim the key, one to record the outcome.
    await records.execute('warm', () => 'ok');
    expect(await watch.commands(() => records.execute('order-1', () => 'ok'))).toHaveLength(2);
    expect(await watch.commands(() => records.execute('order-1', () => 'again'))).toHaveLength(1);
  });

  it('after SCRIPT FLUSH the next call sends the script again (EVAL) and succeeds; later calls use EVALSHA', async () => {
    const store = redisStore({ client: fixture.client });
    const limiter = rateLimiter({ algorithm: tokenBucket({ capacity: 3 }), store, name: 'flush' });
    expect((await limiter.consume('u')).remaining).toBe(2);
    await fixture.client.script('FLUSH');
    const commands = await watch.commands(async () => expect((await limiter.consume('u')).remaining).toBe(1));
    expect(commands.map((c) => c.split(' ')[0])).toEqual(['evalsha', 'eval']);
    expect((await watch.commands(() => limiter.consume('u'))).map((c) => c.split(' ')[0])).toEqual(['evalsha']);
  });

  it('keeps values small: rate limits as binary doubles, breakers as packed text', async () => {
    const store = redisStore({ client: fixture.client, time: 'caller' });
    const now = 1_700_000_000_123;
    await store.apply(storeKey(ns, 'tb'), tokenBucket({ capacity: 10 }).consume, 1, now);
    const breaker = breakerTransition({ strategy: consecutive(3), halfOpenAfter: 1_000 });
    await store.apply(storeKey(ns, 'b'), breaker, { type: 'settle', outcome: 'failure' }, now);
    // A rate limit: its tag, then its numbers and its expiry as little-endian doubles (25 bytes, not 31 of text).
    const tb = await fixture.client.getBuffer(`resilience:${storeKey(ns, 'tb')}`);
    expect(tb?.toString('latin1', 0, 1)).toBe('T');
    expect(tb?.length).toBe(25);
    expect([1, 9, 17].map((at) => tb?.readDoubleLE(at))).toEqual([9, 1_700_000_000_123, 1_700_000_001_123]);
    // A breaker: its expiry (a day idle), then its packed numbers.
    expect(await fixture.client.get(`resilience:${storeKey(ns, 'b')}`)).toBe('1700086400123;B,c,0,0,0,0,0,0,0,0,c,1');
  });

  it('reads a rate limit kept as text by 0.1 as absent: each algorithm starts full and writes its binary form', async () => {
    const store = redisStore({ client: fixture.client, time: 'caller' });
    const now = 1_700_000_000_000;
    const old: [string, RateLimitAlgorithm, string][] = [
      ['T', tokenBucket({ capacity: 10 }), 'T0,1700000000000'],
      ['G', gcra({ limit: 10, periodMs: 10_000 }), 'G1700000010000'],
      ['F', fixedWindow({ limit: 10, windowMs: 10_000 }), 'F1700000000000,10'],
      ['S', slidingWindow({ limit: 10, windowMs: 10_000 }), 'S1700000000000,10,0'],
    ];
    for (const [tag, algorithm, text] of old) {
      const key = storeKey(ns, `v01-${tag}`);
      await fixture.client.set(`resilience:${key}`, `1700000060000;${text}`, 'PX', 60_000);
      expect(await store.get(key, now), tag).toBeUndefined();
      expect(await store.keys(key, now), tag).toEqual([]);
      const d = await store.apply(key, algorithm.consume, 1, now);
      expect([d.allowed, d.remaining], tag).toEqual([true, 9]);
      expect((await fixture.client.getBuffer(`resilience:${key}`))?.toString('latin1', 0, 1)).toBe(tag);
    }
  });

  it('keeps keys character for character: lone surrogates (which UTF-8 cannot hold) never make two keys one', async () => {
    const nodeClient = createClient({ socket: { port: fixture.server.port, host: '127.0.0.1' } });
    await nodeClient.connect();
    onTestFinished(() => nodeClient.close());
    // Sent as UTF-8, each lone surrogate would become U+FFFD: all but the last would be one key.
    const names = ['\uD800', '\uDBFF', '\uDC00', '\uFFFD', 'a\uD800{b}', 'a\uFFFD{b}', '\uDE00\uD83D', '\uD83D\uDE00'];
    for (const [i, client] of [fixture.client, nodeClient].entries()) {
      const store = redisStore({ client, prefix: `p${i}` });
      const space = storeNamespace('chars');
      for (const [n, name] of names.entries()) await store.set(storeKey(space, name), n, 60_000, 0);
      for (const [n, name] of names.entries()) expect(await store.get(storeKey(space, name), 0)).toBe(n);
      expect((await store.keys(space, 0)).sort()).toEqual(names.map((name) => storeKey(space, name)).sort());
      // Decisions alone, made together (one script call) and over several limits (applyAll).
      for (const algorithm of [
        tokenBucket({ capacity: 1 }),
        [tokenBucket({ capacity: 1 }), gcra({ limit: 1, periodMs: 60_000 })],
      ]) {
        const limiter = rateLimiter({ algorithm, store, name: `chars${i}`, denialCache: false });
        for (const name of names) expect((await limiter.consume(name)).allowed, name).toBe(true);
        const again = await Promise.all(names.map((name) => limiter.consume(name)));
        expect(again.map((d) => d.allowed)).toEqual(names.map(() => false));
        await store.delete(storeKey(storeNamespace('rl', `chars${i}`), names[0]!));
      }
      expect(await store.delete(storeKey(space, names[0]!))).toBe(true);
      expect(await store.get(storeKey(space, names[1]!), 0)).toBe(1);
    }
  });

  it('keys(prefix) finds every key starting with a prefix that ends in half a surrogate pair, as the memory store does', async () => {
    const store = redisStore({ client: fixture.client, time: 'caller' });
    for (const key of ['a\uD83D\uDE00', 'a\uD83D', 'a\uD83D\uDE01x', 'a\uD83E\uDE00', 'b\uD83D\uDE00']) {
      await store.set(key, 1, 60_000, 0);
    }
    // UTF-8 holds the pair as four bytes, none of them the three a lone high surrogate goes as.
    expect((await store.keys('a\uD83D', 0)).sort()).toEqual(['a\uD83D', 'a\uD83D\uDE00', 'a\uD83D\uDE01x'].sort());
    expect(await store.keys('a\uD83D\uDE01', 0)).toEqual(['a\uD83D\uDE01x']);
  });

  it('refuses a breaker whose halfOpenAfter is a backoff function, which no script can run', () => {
    const store = redisStore({ client: fixture.client });
    const halfOpenAfter = backoff.exponential({ initialMs: 1_000 });
    expect(() => circuitBreaker({ store, halfOpenAfter, registry: false })).toThrow(ConfigurationError);
    expect(() => circuitBreaker({ store, halfOpenAfter, registry: false })).toThrow(/store: .*breaker\.consecutive/);
    expect(() => circuitBreaker({ store, halfOpenAfter: 1_000, registry: false })).not.toThrow();
  });

  it('rejects an applyAll whose keys do not share a hash tag, before sending anything (no CROSSSLOT on a cluster)', async () => {
    const store = redisStore({ client: fixture.client });
    const t = fixedWindow({ limit: 1, windowMs: 1_000 }).consume;
    const apart = [
      { key: storeKey(ns, 'a'), transition: t, input: 1 },
      { key: storeKey(ns, 'b'), transition: t, input: 1 },
    ];
    expect(
      await watch.commands(() => expect(store.applyAll(apart, 0)).rejects.toThrow(/do not share a hash tag/)),
    ).toEqual([]);
  });
});

describe('a message processor over redisStore', () => {
  it('sinks a message once when its counter is evicted while a delivery runs and a redelivery counts from 1 again', async () => {
    const store = redisStore({ client: fixture.client });
    let release!: () => void;
    const slow = new Promise<void>((resolve) => {
      release = resolve;
    });
    let runs = 0;
    // Each step waited for as it happens (a Redis round trip or two each), not polled for a second.
    let handling!: () => void;
    const handled = new Promise<void>((resolve) => (handling = resolve));
    const handler = vi.fn(() => {
      handling();
      return (++runs === 1 ? slow : Promise.resolve()).then(() => JSON.parse('{'));
    });
    let sinking!: () => void;
    const sinkCalled = new Promise<void>((resolve) => (sinking = resolve));
    let sunk!: () => void;
    const sink = new Promise<void>((resolve) => (sunk = resolve));
    const deadLetter = vi.fn().mockImplementationOnce(() => {
      sinking();
      return sink;
    });
    const p = messageProcessor({ handler, deadLetter, store });
    const first = p.process({ id: 'm' }); // attempt 1 runs slowly
    await handled;
    expect(handler).toHaveBeenCalledTimes(1);
    const key = `resilience:${storeKey(storeNamespace('msg', 'default'), 'm')}`;
    expect(await fixture.client.del(key)).toBe(1); // as an evicting Redis would (allkeys-lru)
    const second = p.process({ id: 'm' }); // attempt 1 again: poison, claims, its sink runs
    await sinkCalled;
    expect(deadLetter).toHaveBeenCalledTimes(1);
    release(); // the first is poison too, with the same attempt number: the claim is not its
    expect((await first).outcome).toBe('retry');
    sunk();
    expect((await second).outcome).toBe('dead_lettered');
    expect((await p.process({ id: 'm' })).outcome).toBe('dead_lettered');
    expect(deadLetter).toHaveBeenCalledTimes(1);
  });
});

describe('redisStore when Redis fails', () => {
  it('rejects with StoreUnavailableError, the client’s error as cause, when the server cannot be reached', async () => {
    const down = await startRedis();
    await down.stop();
    const offline = new Redis({ port: down.port, host: '127.0.0.1', lazyConnect: true, enableOfflineQueue: false });
    offline.on('error', () => undefined); // ioredis reports each failed reconnection here
    const nodeClient = createClient({ socket: { port: down.port, host: '127.0.0.1' } });
    for (const c of [offline, nodeClient]) {
      const limiter = rateLimiter({
        algorithm: tokenBucket(),
        store: redisStore({ client: c }),
        name: 'down',
        onStoreError: 'closed',
      });
      const error = await limiter.consume('u').catch((e: unknown) => e);
      expect(isStoreUnavailableError(error)).toBe(true);
      expect((error as Error).message).toMatch(/^redisStore: apply of ratelimit\.tokenBucket failed: /);
      expect((error as Error).cause).toBeInstanceOf(Error);
    }
    offline.disconnect();
  });

  it('rejects after timeoutMs when the server does not answer, and ignores the late answer', async () => {
    const clock = new FakeClock();
    const store = redisStore({ client: fixture.client, timeoutMs: 200, clock });
    const limiter = rateLimiter({
      algorithm: tokenBucket({ capacity: 1 }),
      store,
      name: 'slow',
      clock,
      onStoreError: 'closed',
    });
    await limiter.consume('warm');
    await fixture.whilePaused(async () => {
      const pending = limiter.consume('u');
      const outcome = pending.then(
        () => 'resolved',
        (e: unknown) => e,
      );
      await clock.advance(199);
      expect(await Promise.race([outcome, Promise.resolve('pending')])).toBe('pending');
      await clock.advance(1);
      const error = await outcome;
      expect(isStoreUnavailableError(error)).toBe(true);
      expect((error as Error).message).toBe(
        'redisStore: apply of ratelimit.tokenBucket got no answer within 200 ms (timeoutMs)',
      );
    });
    // The command ran late on the server (it took the token); the store is usable again.
    expect(await limiter.consume('u')).toMatchObject({ allowed: false });
  });

  it('fails fast while Redis answers nothing: after a timeout, one probe per timeoutMs is sent, so commands never pile up in the client', async () => {
    const clock = new FakeClock();
    const store = redisStore({ client: fixture.client, timeoutMs: 200, clock });
    const consume = tokenBucket({ capacity: 1000 }).consume;
    const key = storeKey(ns, 'silent');
    await Promise.all([store.apply(key, consume, 1, 0), store.get(key, 0)]); // both scripts loaded
    const commands = await watch.commands(() =>
      fixture.whilePaused(async () => {
        const first = store.get(key, 0).catch((e: unknown) => e);
        await clock.advance(200); // no answer within timeoutMs: Redis is silent
        expect(isStoreUnavailableError(await first)).toBe(true);
        const probe = store.get(key, 0).catch((e: unknown) => e); // the first call after it goes out, as a probe
        const refused = await Promise.all(
          Array.from({ length: 100 }, (_, i) =>
            (i % 2 ? store.get(key, 0) : store.apply(key, consume, 1, 0)).catch((e: unknown) => e),
          ),
        ); // settled at once, the clock not moved
        for (const error of refused) {
          expect(isStoreUnavailableError(error)).toBe(true);
          expect((error as Error).message).toMatch(
            /^redisStore: (get|apply of ratelimit\.tokenBucket): not sent, Redis silent$/,
          );
        }
        await clock.advance(200); // the probe times out; the next one is due
        expect(isStoreUnavailableError(await probe)).toBe(true);
        const second = store.get(key, 0).catch((e: unknown) => e);
        expect(isStoreUnavailableError(await store.get(key, 0).catch((e: unknown) => e))).toBe(true);
        await clock.advance(200);
        expect(isStoreUnavailableError(await second)).toBe(true);
      }),
    );
    // The first call and two probes reached the server, not the 101 others.
    expect(commands.filter((c) => c.startsWith('evalsha'))).toHaveLength(3);
    // An answer, a late one too, ends the silence: every call goes out again.
    await fixture.client.ping(); // answered after the late answers on the same connection
    const after = await Promise.all([store.get(key, 0), store.apply(key, consume, 1, 0)]);
    expect(after[1]).toMatchObject({ allowed: true });
  });

  it('fails fast too when the client times a command out before timeoutMs (ioredis commandTimeout below it)', async () => {
    const key = storeKey(ns, 'client-timeout');
    await redisStore({ client: fixture.client }).get(key, 0); // the script loaded
    const client = new Redis({ port: fixture.server.port, host: '127.0.0.1', commandTimeout: 50 });
    onTestFinished(() => client.disconnect());
    await once(client, 'ready');
    const clock = new FakeClock(); // never moved: only the client's timeout runs out
    const store = redisStore({ client, timeoutMs: 200, clock });
    const outcomes: unknown[] = [];
    const commands = await watch.commands(() =>
      fixture.whilePaused(async () => {
        for (let i = 0; i < 10; i++) outcomes.push(await store.get(key, 0).catch((e: unknown) => (e as Error).message));
      }),
    );
    // The first call, timed out by the client, starts the silence; the next is its probe; the others are not sent.
    expect(outcomes.slice(0, 2)).toEqual(Array(2).fill('redisStore: get failed: Command timed out'));
    expect(new Set(outcomes.slice(2))).toEqual(new Set(['redisStore: get: not sent, Redis silent']));
    expect(commands.filter((c) => c.startsWith('evalsha'))).toHaveLength(2);
  });

  it('keeps failing fast when keys() lists the primaries while Redis answers nothing (the client answers that, not Redis): its SCAN is the probe', async () => {
    const clock = new FakeClock();
    const store = redisStore({ client: fixture.client, timeoutMs: 200, clock });
    const key = storeKey(ns, 'listed');
    await Promise.all([store.get(key, 0), store.keys(ns, 0)]);
    const commands = await watch.commands(() =>
      fixture.whilePaused(async () => {
        const first = store.get(key, 0).catch((e: unknown) => e);
        await clock.advance(200);
        expect(isStoreUnavailableError(await first)).toBe(true);
        const listed = store.keys(ns, 0).catch((e: unknown) => e); // its SCAN goes out as the probe
        await new Promise((resolve) => setImmediate(resolve));
        const refused = await Promise.all(Array.from({ length: 10 }, () => store.get(key, 0).catch((e: unknown) => e)));
        for (const error of refused) expect((error as Error).message).toMatch(/not sent, Redis silent$/);
        await clock.advance(200);
        expect((await listed) as Error).toMatchObject({
          message: 'redisStore: keys got no answer within 200 ms (timeoutMs)',
        });
      }),
    );
    expect(commands.filter((c) => c.startsWith('evalsha'))).toHaveLength(2);
  });

  it('ends a silence through keys() alone once Redis is back: listing the primaries never takes the probe from its SCAN', async () => {
    const server = await startRedis();
    onTestFinished(() => server.stop());
    // The options docs/redis.md recommends: a command lost with its connection is not sent again, so no late answer comes.
    const client = new Redis({ port: server.port, host: '127.0.0.1', autoResendUnfulfilledCommands: false });
    client.on('error', () => undefined);
    onTestFinished(() => client.disconnect());
    const clock = new FakeClock();
    const store = redisStore({ client, timeoutMs: 200, clock });
    const key = storeKey(ns, 'recovered');
    await store.set(key, 1, 60_000, 0);
    expect(await store.keys(ns, 0)).toEqual([key]);
    server.pause();
    const first = store.get(key, 0).catch((e: unknown) => e);
    await clock.advance(200); // no answer: Redis is silent
    expect(isStoreUnavailableError(await first)).toBe(true);
    await server.kill(); // the connection closes; the command's answer never comes
    await server.restart();
    await client.ping().catch(() => undefined);
    await client.ping();
    // Only keys() from here on (a worker calling saga.recover()): each time the probe is due, it sends it.
    const found: unknown[] = [];
    for (let i = 0; i < 3; i++) {
      found.push(await store.keys(ns, 0).catch((e: unknown) => (e as Error).message));
      await clock.advance(200);
    }
    expect(found).toEqual([[], [], []]); // restarted empty: listed, not refused
  });

  it('sends the next probe at once when the clock steps back while Redis answers nothing', async () => {
    const fake = new FakeClock();
    let behind = 0;
    const clock: Clock = {
      now: () => fake.now() - behind,
      setTimeout: (callback, ms) => fake.setTimeout(callback, ms),
      clearTimeout: (handle) => fake.clearTimeout(handle),
      sleep: (ms, signal) => fake.sleep(ms, signal),
    };
    const store = redisStore({ client: fixture.client, timeoutMs: 200, clock });
    const key = storeKey(ns, 'stepped');
    await store.get(key, 0);
    let probe: Promise<unknown> = Promise.resolve();
    let next: Promise<unknown> = Promise.resolve();
    const commands = await watch.commands(() =>
      fixture.whilePaused(async () => {
        const first = store.get(key, 0).catch((e: unknown) => e);
        await fake.advance(200);
        expect(isStoreUnavailableError(await first)).toBe(true);
        probe = store.get(key, 0); // the next probe is due in 200 ms
        behind = 3_600_000; // NTP steps Date.now() back an hour
        next = store.get(key, 0); // not an hour and 200 ms later: sent now, waiting for Redis
        expect(await Promise.race([next.catch((e: unknown) => e), Promise.resolve('waiting')])).toBe('waiting');
      }),
    );
    expect(await Promise.all([probe, next])).toEqual([undefined, undefined]);
    expect(commands.filter((c) => c.startsWith('evalsha'))).toHaveLength(3);
  });

  it('bounds every operation in flight with one timer, not one timer per call', async () => {
    const clock = new FakeClock();
    const store = redisStore({ client: fixture.client, timeoutMs: 200, clock });
    const limiter = rateLimiter({ algorithm: tokenBucket(), store, name: 'timers', clock, onStoreError: 'closed' });
    await limiter.consume('warm');
    await fixture.whilePaused(async () => {
      const calls = Array.from({ length: 50 }, (_, i) => limiter.consume(`u${i}`).catch((e: unknown) => e));
      expect(clock.pendingTimers).toBe(1);
      await clock.advance(200);
      for (const outcome of await Promise.all(calls)) expect(isStoreUnavailableError(outcome)).toBe(true);
    });
  });

  it('lets a per-call shared breaker decide from its last state while Redis does not answer, keeping the call’s outcome', async () => {
    const clock = new FakeClock();
    const store = redisStore({ client: fixture.client, timeoutMs: 200, clock });
    const breaker = circuitBreaker({
      store,
      name: 'outage',
      strategy: consecutive(1),
      clock,
      registry: false,
      sync: 'per-call',
    });
    const events: string[] = [];
    breaker.onEvent((e) => events.push(e.type === 'store_error' ? `store_error ${e.step}` : e.type));
    expect(await breaker.execute(() => 'up')).toBe('up');
    await fixture.whilePaused(async () => {
      const call = breaker.execute(() => 'ran while Redis was away');
      await clock.advance(200); // the acquire times out: closed when last seen, so the call runs
      await clock.advance(200); // the settle times out: the outcome is lost, the value is not
      expect(await call).toBe('ran while Redis was away');
    });
    expect(events).toEqual(['success', 'store_error acquire', 'success', 'store_error settle']);
  });

  it('lets a synchronised breaker decide locally while Redis does not answer; the merge that times out is reported', async () => {
    const clock = new FakeClock();
    const store = redisStore({ client: fixture.client, timeoutMs: 200, clock });
    const breaker = circuitBreaker({ store, name: 'outage-sync', strategy: consecutive(2), clock, registry: false });
    const events: string[] = [];
    breaker.onEvent((e) => events.push(e.type === 'store_error' ? `store_error ${e.step}` : e.type));
    expect(await breaker.execute(() => 'up')).toBe('up'); // the first call reads the shared state
    await fixture.whilePaused(async () => {
      expect(await breaker.execute(() => 'decided here')).toBe('decided here'); // no round trip
      await clock.advance(1_000); // the merge of both outcomes is due
      await clock.advance(200); // and times out
    });
    expect(events).toEqual(['success', 'success', 'store_error sync']);
  });

  it('lets a limiter pass requests (onStoreError open), or refuse them (closed), when Redis does not answer in time', async () => {
    const clock = new FakeClock();
    const store = redisStore({ client: fixture.client, timeoutMs: 200, clock });
    const open = rateLimiter({ algorithm: tokenBucket({ capacity: 1 }), store, name: 'open', clock });
    const closed = rateLimiter({
      algorithm: tokenBucket({ capacity: 1 }),
      store,
      name: 'closed',
      clock,
      onStoreError: 'closed',
    });
    await Promise.all([open.consume('warm'), closed.consume('warm')]);
    await fixture.whilePaused(async () => {
      const decisions = [open.consume('u'), closed.consume('u').catch((e: unknown) => e)];
      await clock.advance(200);
      const [passed, refused] = await Promise.all(decisions);
      expect(passed).toMatchObject({ allowed: true, degraded: true });
      expect(isStoreUnavailableError(refused)).toBe(true);
    });
    expect([open.stats.storeErrors, closed.stats.storeErrors]).toEqual([1, 1]);
  });

  it('rejects with StoreUnavailableError, and never throws later, when the client throws instead of rejecting', async () => {
    const boom = () => {
      throw new Error('boom');
    };
    const store = redisStore({ client: { evalsha: boom, eval: boom, publish: boom } });
    const consume = tokenBucket().consume;
    const key = storeKey(ns, 'throws');
    const outcomes = await Promise.all(
      [store.apply(key, consume, 1, 0), store.apply(key, consume, 1, 0), store.get(key, 0)].map((p) =>
        p.catch((e: unknown) => e),
      ),
    );
    for (const outcome of outcomes) {
      expect(isStoreUnavailableError(outcome)).toBe(true);
      expect((outcome as Error).message).toMatch(/failed: boom$/);
    }
  });

  it('rejects with StoreUnavailableError at once, and never throws later, when the client throws on the EVAL after NOSCRIPT', async () => {
    const clock = new FakeClock();
    const noScript = () => Promise.reject(new Error('NOSCRIPT No matching script. Please use EVAL.'));
    const boom = () => {
      throw new Error('boom');
    };
    const store = redisStore({ client: { evalsha: noScript, eval: boom, publish: boom }, clock });
    const consume = tokenBucket().consume;
    const key = storeKey(ns, 'throws-on-eval');
    // An operation of its own, and two decisions of one tick, sent in one script call.
    const calls = [store.get(key, 0), store.apply(key, consume, 1, 0), store.apply(key, consume, 1, 0)];
    const outcomes = await Promise.all(calls.map((p) => p.catch((e: unknown) => e))); // the clock never moves
    for (const outcome of outcomes) {
      expect(isStoreUnavailableError(outcome)).toBe(true);
      expect((outcome as Error).message).toMatch(/failed: boom$/);
    }
  });

  it('rejects with StoreUnavailableError on an error reply', async () => {
    const store = redisStore({ client: fixture.client });
    const key = storeKey(ns, 'list');
    await fixture.client.lpush(`resilience:${key}`, 'x');
    const error = await store.get(key, 0).catch((e: unknown) => e);
    expect(isStoreUnavailableError(error)).toBe(true);
    expect((error as Error).message).toMatch(/WRONGTYPE/);
  });

  it('rejects with StoreUnavailableError when a value it finds is not one it can read (written by something else)', async () => {
    const store = redisStore({ client: fixture.client });
    const key = storeKey(ns, 'foreign');
    const records = idempotency({ store, keyPrefix: 'foreign' });
    await fixture.client.set(`resilience:${key}`, ';{"a":');
    await fixture.client.set(
      `resilience:${storeKey(storeNamespace('idem', 'foreign'), 'k')}`,
      ';{"s":"done","outcome":}',
    );
    const begin = { key: storeKey(storeNamespace('idem', 'foreign'), 'k'), transition: beginTransition(1_000) };
    const calls = [
      () => store.get(key, 0),
      () => records.execute('k', () => 'ran'),
      () => store.applyAll([{ ...begin, input: { fp: null, owner: 'o' } }], 0),
    ];
    for (const call of calls) {
      const error = await call().catch((e: unknown) => e);
      expect(isStoreUnavailableError(error), String(error)).toBe(true);
      expect((error as Error).cause).toBeInstanceOf(SyntaxError);
    }
  });
});

describe('redisStore options', () => {
  // The options as the package's own entry reads them, whatever a test gives (no clock added).
  const redisStore = entryRedisStore;
  it('has named defaults', () => {
    expect(REDIS_STORE_DEFAULTS).toEqual({ prefix: 'resilience', timeoutMs: 200, time: 'server' });
  });

  it('throws ConfigurationError naming every bad option', () => {
    const bad = () =>
      redisStore({ client: {}, prefix: 'a{b}', timeoutMs: 0, time: 'local' as never, clock: {} as never });
    expect(bad).toThrow(ConfigurationError);
    for (const option of ['client', 'prefix', 'timeoutMs', 'time', 'clock'])
      expect(bad).toThrow(new RegExp(`${option}: `));
    expect(() => redisStore({ client: fixture.client, colour: 'red' } as never)).toThrow(/colour: /);
    expect(() => redisStore(undefined as never)).toThrow(ConfigurationError);
  });

  it('never writes a client’s fields (its password) into the error, whichever option or mistake carries it', () => {
    const io = new Redis({ lazyConnect: true, password: 'hunter2' });
    const mistakes = [
      { storeClient: io }, // rate-limiter-flexible's name for the client
      { client: { host: '127.0.0.1', password: 'hunter2' } }, // connection options instead of a client
      { client: io, subscriber: { options: io.options } },
      io, // the client instead of the options
    ];
    for (const options of mistakes) {
      const error = (() => {
        try {
          redisStore(options as never);
        } catch (e) {
          return e as Error;
        }
      })();
      expect(error).toBeInstanceOf(ConfigurationError);
      expect(error?.message).not.toMatch(/hunter2/);
    }
    expect(() => redisStore({ client: { host: '127.0.0.1', password: 'x' } } as never)).toThrow(
      /client: received "an object {host,password}"/,
    );
    expect(() => redisStore(io as never)).toThrow(/options: received "a Redis client"/);
  });

  it('refuses an ioredis client with keyPrefix (its SCAN would not add it)', () => {
    const prefixed = new Redis({ lazyConnect: true, keyPrefix: 'app:' });
    expect(() => redisStore({ client: prefixed })).toThrow(/client: .*keyPrefix/);
  });

  it('reads integer replies given as text (ioredis stringNumbers): decisions, batches and delete as with numbers', async () => {
    const texts = new Redis({ port: fixture.server.port, host: '127.0.0.1', stringNumbers: true });
    const store = redisStore({ client: texts, timeoutMs: 10_000 });
    const limiter = rateLimiter({ algorithm: tokenBucket({ capacity: 2 }), store, name: 'texts', denialCache: false });
    expect(await limiter.consume('one')).toMatchObject({ allowed: true, remaining: 1 });
    const burst = await Promise.all([1, 2, 3].map(() => limiter.consume('burst')));
    expect(burst.map((d) => [d.allowed, d.remaining])).toEqual([
      [true, 1],
      [true, 0],
      [false, 0],
    ]);
    const key = storeKey(ns, 'texts');
    await store.set(key, 1, 1_000, 0);
    expect(await store.delete(key)).toBe(true);
    texts.disconnect();
  });

  it('reads text replies given as Buffers (node-redis typeMapping): keys() as given, and a batched decision’s error', async () => {
    const node = createClient({ socket: { port: fixture.server.port, host: '127.0.0.1' } });
    node.on('error', () => undefined);
    await node.connect();
    onTestFinished(() => node.destroy());
    const buffers = node.withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer, [RESP_TYPES.SIMPLE_STRING]: Buffer });
    const store = redisStore({ client: buffers, timeoutMs: 10_000 });
    const found = storeNamespace('test', 'buffers');
    const given = ['plain', 'a}b', 'lone\uD800'].map((k) => storeKey(found, k));
    for (const key of given) await store.set(key, 1, 60_000, 0);
    // saga.recover() lists its logs so: unreadable keys would leave every abandoned saga uncompensated.
    expect((await store.keys(found, 0)).sort()).toEqual([...given].sort());
    const consume = tokenBucket({ capacity: 5 }).consume;
    const [a, b] = [storeKey(ns, 'buffers-a'), storeKey(ns, 'buffers-b')];
    await fixture.client.lpush(`resilience:${b}`, 'x');
    const [ok, wrong] = await Promise.all([a, b].map((k) => store.apply(k, consume, 1, 0).catch((e: unknown) => e)));
    expect(ok).toMatchObject({ allowed: true, remaining: 4 });
    expect((wrong as Error).message).toMatch(/^redisStore: apply of ratelimit\.tokenBucket failed: WRONGTYPE/);
  });

  it('puts prefix and a colon before every key, or nothing with an empty prefix', async () => {
    const key = storeKey(ns, 'p');
    await redisStore({ client: fixture.client, prefix: 'app' }).set(key, 1, 1_000, 0);
    await redisStore({ client: fixture.client, prefix: '' }).set(key, 2, 1_000, 0);
    expect((await fixture.client.keys('*')).sort()).toEqual([`app:${key}`, key]);
  });
});
