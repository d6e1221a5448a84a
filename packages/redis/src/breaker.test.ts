/**
 * A breaker shared through Redis, in both modes: the round trips each costs, and the
 * pub/sub channel that carries a synchronised breaker's changes to the other instances.
 */
import { once } from 'node:events';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import {
  type BreakerEvent,
  ConfigurationError,
  type CountWindowOptions,
  circuitBreaker,
  consecutive,
  countWindow,
} from '@resilience/core';
import { FakeClock } from '@resilience/core/testing';
import { Redis } from 'ioredis';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useServer } from './testing/fixture.js';
import { type Monitor, monitor } from './testing/monitor.js';
import { redisStore } from './testing/untimed.js';

const fixture = useServer();
let watch: Monitor;
const clients: { disconnect(): void }[] = [];

beforeAll(async () => {
  watch = await monitor(new Redis({ port: fixture.server.port, host: '127.0.0.1' }));
});

afterAll(() => {
  watch?.stop();
  for (const c of clients) c.disconnect();
});

const ioredis = () => {
  const client = new Redis({ port: fixture.server.port, host: '127.0.0.1' });
  clients.push(client);
  return client;
};

/** Resolves with the next state change of `breaker` to `to` (no sleep: the event itself). */
const changeTo = (breaker: { on: (type: 'state_change', l: (e: BreakerEvent) => void) => () => void }, to: string) =>
  new Promise<void>((resolve) => {
    const stop = breaker.on('state_change', (e) => {
      if (e.type === 'state_change' && e.to === to) {
        stop();
        resolve();
      }
    });
  });

const fail = () => Promise.reject(new Error('HTTP 503'));

describe('a breaker shared through Redis', () => {
  it("costs 2 round trips a call per call, and none on a synchronised breaker's success path (one merge per syncMs)", async () => {
    const clock = new FakeClock();
    const store = redisStore({ client: fixture.client });
    const options = { store, strategy: consecutive(5), halfOpenAfter: 1_000, clock, registry: false } as const;
    const perCall = circuitBreaker({ ...options, name: 'per-call', sync: 'per-call' });
    const synced = circuitBreaker({ ...options, name: 'synced' });
    await perCall.execute(() => 1); // scripts loaded
    await synced.execute(() => 1); // the first read
    const perCallTrips = await watch.commands(async () => {
      for (let i = 0; i < 10; i++) await perCall.execute(() => i);
    });
    expect(perCallTrips).toHaveLength(20);
    const syncedTrips = await watch.commands(async () => {
      for (let i = 0; i < 100; i++) await synced.execute(() => i);
      await clock.advance(1_000); // the merge of 101 outcomes
      await synced.sync(); // waits for the merge to land, then reads once more
    });
    expect(syncedTrips.map((c) => c.split(' ')[0])).toEqual(['evalsha', 'evalsha']);
  });

  for (const kind of ['ioredis', 'node-redis'] as const) {
    it(`carries an opening to the other instances at once over pub/sub (${kind} subscriber)`, async () => {
      const subscriber = async () => {
        if (kind === 'ioredis') return ioredis();
        const node = createClient({ socket: { port: fixture.server.port, host: '127.0.0.1' } });
        await node.connect();
        clients.push({ disconnect: () => void node.close() });
        return node;
      };
      // A minute between merges: only the channel can tell b of a's opening in time.
      const make = async () =>
        circuitBreaker({
          store: redisStore({ client: ioredis(), subscriber: await subscriber() }),
          name: `channel-${kind}`,
          strategy: consecutive(2),
          halfOpenAfter: 60_000,
          sync: { syncMs: 60_000 },
          registry: false,
        });
      const [a, b] = [await make(), await make()];
      await a.execute(() => 'warm');
      await b.execute(() => 'warm');
      // Both SUBSCRIBEs have reached the server (asked again until they have: no sleep).
      const channel = `resilience:{breaker|channel-${kind}}`;
      while (Number(((await fixture.client.pubsub('NUMSUB', channel)) as unknown[])[1]) < 2);
      const heard = changeTo(b, 'open');
      for (let i = 0; i < 2; i++) await a.execute(fail).catch(() => undefined);
      await heard;
      await expect(b.execute(() => 'not run')).rejects.toMatchObject({ code: 'circuit_open' });
      a.dispose();
      b.dispose();
    });
  }

  for (const kind of ['ioredis', 'node-redis'] as const) {
    it(`keeps a breaker listening when another store over the same subscriber stops listening to its key (${kind})`, async () => {
      let subscriber: object = ioredis();
      if (kind === 'node-redis') {
        const node = createClient({ socket: { port: fixture.server.port, host: '127.0.0.1' } });
        await node.connect();
        clients.push({ disconnect: () => void node.close() });
        subscriber = node;
      }
      const client = ioredis();
      // Two stores over one pair of clients (made in two modules of one service, say).
      const make = (store = redisStore({ client, subscriber })) =>
        circuitBreaker({
          store,
          name: `shared-subscriber-${kind}`,
          strategy: consecutive(2),
          halfOpenAfter: 60_000,
          sync: { syncMs: 60_000 },
          registry: false,
        });
      const [gone, kept] = [make(), make()];
      const other = make(redisStore({ client: ioredis(), subscriber: ioredis() }));
      for (const b of [gone, kept, other]) await b.execute(() => 'warm');
      const channel = `resilience:{breaker|shared-subscriber-${kind}}`;
      while (Number(((await fixture.client.pubsub('NUMSUB', channel)) as unknown[])[1]) < 2);
      gone.dispose(); // its store's last listener of the key: the subscriber's other store still listens
      await (subscriber as { ping(): Promise<unknown> }).ping?.().catch(() => undefined); // after any UNSUBSCRIBE
      expect(((await fixture.client.pubsub('NUMSUB', channel)) as unknown[])[1]).toBe(2);
      const heard = changeTo(kept, 'open');
      for (let i = 0; i < 2; i++) await other.execute(fail).catch(() => undefined);
      await heard;
      kept.dispose();
      other.dispose();
    });
  }

  for (const kind of ['ioredis', 'node-redis'] as const) {
    it(`keeps breakers of two databases of one server apart: an opening in db 1 is not heard in db 0 (${kind})`, async () => {
      // Pub/sub ignores the database: two environments (or services) in db 0 and db 1 of one Redis, with one breaker name.
      // The database given as text too, as read from an environment variable: db '0' is database 0.
      const client = async (db: number | string) => {
        if (kind === 'ioredis') {
          const io = new Redis({ port: fixture.server.port, host: '127.0.0.1', db: db as number });
          clients.push(io);
          return io;
        }
        const node = createClient({ socket: { port: fixture.server.port, host: '127.0.0.1' }, database: db as number });
        await node.connect();
        clients.push({ disconnect: () => void node.close() });
        return node;
      };
      const make = async (db: number | string) => {
        const subscriber = await client(db);
        const breaker = circuitBreaker({
          store: redisStore({ client: await client(db), subscriber }),
          name: `databases-${kind}`,
          strategy: consecutive(2),
          halfOpenAfter: 60_000,
          sync: { syncMs: 60_000 },
          registry: false,
        });
        await breaker.execute(() => 'warm');
        return { breaker, subscriber: subscriber as unknown as { ping(): Promise<unknown> } };
      };
      const [zero, one, otherOne, zeroText] = [await make(0), await make(1), await make(1), await make('0')];
      // All four SUBSCRIBEs have reached the server (asked again until they have: no sleep).
      const subscribers = async () => {
        const channels = (await fixture.client.pubsub('CHANNELS', `*databases-${kind}*`)) as string[];
        const counts = channels.length === 0 ? [] : ((await fixture.client.pubsub('NUMSUB', ...channels)) as unknown[]);
        return counts.filter((_, i) => i % 2).reduce((sum: number, n) => sum + Number(n), 0);
      };
      while ((await subscribers()) < 4);
      const heard = changeTo(otherOne.breaker, 'open');
      for (let i = 0; i < 2; i++) await one.breaker.execute(fail).catch(() => undefined);
      await heard; // delivered to every subscriber of db 1's channel
      await zero.subscriber.ping(); // answered after any message sent to db 0's subscriber before it
      expect(zero.breaker.state).toBe('closed');
      expect(await zero.breaker.execute(() => 'ran')).toBe('ran');
      // Database 0 still hears itself, however its number was given.
      const zeroHeard = changeTo(zeroText.breaker, 'open');
      for (let i = 0; i < 2; i++) await zero.breaker.execute(fail).catch(() => undefined);
      await zeroHeard;
      for (const b of [zero, one, otherOne, zeroText]) b.breaker.dispose();
    });
  }

  it('subscribes once the subscriber is ready when its first SUBSCRIBE failed (ioredis with no offline queue, still connecting)', async () => {
    // As docs/redis.md builds it: enableOfflineQueue false, and the breaker made at start-up.
    const subscriber = new Redis({ port: fixture.server.port, host: '127.0.0.1', enableOfflineQueue: false });
    clients.push(subscriber);
    const make = (client: object, subscriber: object) =>
      circuitBreaker({
        store: redisStore({ client, subscriber }),
        name: 'late',
        strategy: consecutive(2),
        halfOpenAfter: 60_000,
        sync: { syncMs: 60_000 },
        registry: false,
      });
    const a = make(ioredis(), ioredis());
    const b = make(ioredis(), subscriber); // its SUBSCRIBE fails at once: "Stream isn't writeable"
    await once(subscriber, 'ready');
    await a.execute(() => 'warm');
    await b.execute(() => 'warm');
    while (Number(((await fixture.client.pubsub('NUMSUB', 'resilience:{breaker|late}')) as unknown[])[1]) < 2);
    const heard = changeTo(b, 'open');
    for (let i = 0; i < 2; i++) await a.execute(fail).catch(() => undefined);
    await heard;
    a.dispose();
    b.dispose();
  });

  it('lets synchronised breakers dropped without dispose() go, with their SUBSCRIBE, and keeps a live one listening', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const store = redisStore({ client: ioredis(), subscriber: ioredis() });
    const options = { store, strategy: consecutive(2), halfOpenAfter: 60_000, sync: { syncMs: 60_000 } } as const;
    const make = (key: string) => circuitBreaker({ ...options, name: 'dropped', key, registry: false });
    const kept = make('kept');
    // A careless service: one breaker per request of a tenant, never disposed.
    for (let i = 0; i < 200; i++) {
      make(`tenant-${i}`);
      make('kept');
    }
    const channels = async () =>
      ((await fixture.client.pubsub('CHANNELS', 'resilience:{breaker|*')) as unknown[]).length;
    while ((await channels()) < 201);
    for (let i = 0; i < 20 && (await channels()) > 1; i++) {
      gc();
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(await channels()).toBe(1);
    // The breaker still held hears another instance open the circuit (announced only: a minute between merges).
    const publisher = redisStore({ client: ioredis(), subscriber: ioredis() });
    const other = circuitBreaker({ ...options, store: publisher, name: 'o', key: 'kept' });
    await kept.execute(() => 'warm');
    const heard = changeTo(kept, 'open');
    for (let i = 0; i < 2; i++) await other.execute(fail).catch(() => undefined);
    await other.sync();
    await heard;
    kept.dispose();
    other.dispose();
  }, 30_000);

  it('keeps no listener per store on a subscriber shared by stores made per tenant', () => {
    const [client, subscriber] = [ioredis(), ioredis()];
    const stores = Array.from({ length: 50 }, (_, i) => redisStore({ client, subscriber, prefix: `t-${i}` }));
    expect(stores).toHaveLength(50);
    expect(subscriber.listenerCount('ready')).toBe(0); // only while a SUBSCRIBE waits to be sent again
    expect(subscriber.listenerCount('message')).toBe(1); // one for every store over it
  });

  it('refuses the store’s own client, or something that is not a client, as subscriber', () => {
    expect(() => redisStore({ client: fixture.client, subscriber: fixture.client })).toThrow(ConfigurationError);
    expect(() => redisStore({ client: fixture.client, subscriber: {} })).toThrow(/subscriber/);
    expect(redisStore({ client: fixture.client }).channel).toBeUndefined();
  });
});

describe('the Redis TTL of a shared breaker key', () => {
  const DAY = 86_400_000;
  const ttlOf = (name: string) => fixture.client.pttl(`resilience:{breaker|${name}}`);
  const make = (
    name: string,
    clock: FakeClock,
    halfOpenAfter = 1_000,
    sync: 'per-call' | { syncMs: number } = 'per-call',
  ) =>
    circuitBreaker({
      store: redisStore({ client: fixture.client, time: 'caller' }),
      name,
      strategy: consecutive(3),
      halfOpenAfter,
      sync,
      clock,
      registry: false,
    });

  it('is refreshed by every write, and a breaker idle for longer starts closed', async () => {
    const clock = new FakeClock(1_700_000_000_000);
    const breaker = make('idle', clock);
    await breaker.execute(fail).catch(() => undefined);
    expect(await ttlOf('idle')).toBeGreaterThan(DAY); // a day, plus the minute of 'caller' time
    await clock.advance(DAY - 60_000);
    await breaker.execute(fail).catch(() => undefined); // refreshed: the first failure still counts
    await clock.advance(DAY - 60_000);
    await breaker.execute(fail).catch(() => undefined);
    expect(breaker.state).toBe('open');
    await clock.advance(DAY + 1); // idle: the shared state is gone, the next failure is the first
    await breaker.execute(fail).catch(() => undefined);
    expect(breaker.state).toBe('closed');
    // A synchronised breaker's merges refresh it too.
    const synced = make('synced', clock, 1_000, { syncMs: 1_000 });
    await synced.execute(fail).catch(() => undefined);
    await synced.sync();
    expect(await ttlOf('synced')).toBeGreaterThan(DAY);
    synced.dispose();
  });

  it('outlives an open breaker’s delay (four of them when longer than a day) and an isolation', async () => {
    const clock = new FakeClock(1_700_000_000_000);
    const breaker = make('long', clock, 30 * 3_600_000);
    for (let i = 0; i < 3; i++) await breaker.execute(fail).catch(() => undefined);
    expect(await ttlOf('long')).toBeGreaterThan(4 * 30 * 3_600_000);
    await clock.advance(29 * 3_600_000);
    await expect(breaker.execute(() => 'not run')).rejects.toMatchObject({ code: 'circuit_open' });
    const isolated = make('isolated', clock);
    const release = await isolated.isolate();
    expect(await ttlOf('isolated')).toBe(-1);
    await clock.advance(100 * DAY);
    await expect(isolated.execute(() => 'not run')).rejects.toMatchObject({ code: 'circuit_isolated' });
    await release();
    expect(await isolated.execute(() => 'ran')).toBe('ran');
  });
});

describe('a shared breaker whose strategy a deploy changed', () => {
  const clock = new FakeClock(1_700_000_000_000);
  const store = () => redisStore({ client: fixture.client, time: 'caller' });
  const make = (name: string, strategy: CountWindowOptions | number, sync: 'per-call' | { syncMs: number }) =>
    circuitBreaker({
      store: store(),
      name,
      strategy: typeof strategy === 'number' ? consecutive(strategy) : countWindow(strategy),
      halfOpenAfter: 30_000,
      sync,
      clock,
      registry: false,
    });
  const rule = { failureRate: 0.5, minimumCalls: 4 };

  for (const sync of ['per-call', { syncMs: 1_000 }] as const) {
    const mode = typeof sync === 'string' ? sync : 'synchronised';
    it(`starts the stored window afresh, rather than fail every step until the key expires a day later (${mode})`, async () => {
      const name = `changed-${mode}`;
      const before = make(name, { size: 10, ...rule }, sync);
      await before.execute(() => 'ok');
      await before.sync();
      before.dispose();
      const after = make(name, { size: 20, ...rule }, sync);
      const errors: unknown[] = [];
      after.onEvent((e) => e.type === 'store_error' && errors.push(e.error));
      for (let i = 0; i < 4; i++) await after.execute(fail).catch(() => undefined);
      await after.sync();
      expect(errors).toEqual([]);
      // Shared: a third instance of the new strategy reads it open.
      const other = make(name, { size: 20, ...rule }, sync);
      await expect(other.execute(() => 'not run')).rejects.toMatchObject({ code: 'circuit_open' });
      after.dispose();
      other.dispose();
    });
  }

  it('keeps an isolation and an opening across the change, of the window’s size or of its kind', async () => {
    const isolated = make('changed-isolated', 3, 'per-call');
    await isolated.isolate();
    const count = make('changed-isolated', { size: 10, ...rule }, 'per-call');
    await expect(count.execute(() => 'not run')).rejects.toMatchObject({ code: 'circuit_isolated' });
    const open = make('changed-open', { size: 10, ...rule }, 'per-call');
    for (let i = 0; i < 4; i++) await open.execute(fail).catch(() => undefined);
    const bigger = make('changed-open', { size: 40, ...rule }, 'per-call');
    await expect(bigger.execute(() => 'not run')).rejects.toMatchObject({ code: 'circuit_open' });
  });
});
