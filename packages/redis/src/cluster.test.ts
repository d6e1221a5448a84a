/**
 * On a three-primary Redis Cluster: keys spread over every primary, the keys of one caller
 * key share a slot (so a limiter's several limits and `applyAll` never meet CROSSSLOT),
 * `keys()` scans every primary, and a `SCRIPT FLUSH` on every node breaks nothing.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  circuitBreaker,
  consecutive,
  fixedWindow,
  gcra,
  idempotency,
  isStoreUnavailableError,
  rateLimiter,
  storeKey,
  storeNamespace,
  tokenBucket,
} from '@resilience/core';
import { FakeClock } from '@resilience/core/testing';
import { Cluster, type Redis } from 'ioredis';
import { createCluster } from 'redis';
import { afterAll, beforeAll, beforeEach, describe, expect, it, onTestFinished } from 'vitest';
import { slotOf } from './store.js';
import { type RedisCluster, startCluster } from './testing/servers.js';
import { redisStore } from './testing/untimed.js';

let cluster: RedisCluster;
let ioredis: Cluster;
let nodeRedis: ReturnType<typeof createCluster>;

beforeAll(async () => {
  cluster = await startCluster();
  ioredis = new Cluster(cluster.ports.map((port) => ({ host: '127.0.0.1', port })));
  nodeRedis = createCluster({ rootNodes: cluster.ports.map((port) => ({ socket: { host: '127.0.0.1', port } })) });
  await nodeRedis.connect();
}, 120_000);

afterAll(async () => {
  ioredis?.disconnect();
  await nodeRedis?.close();
  await cluster?.stop();
});

beforeEach(async () => {
  await Promise.all(ioredis.nodes('master').map((node) => node.flushall()));
});

/** A cluster client of `kind` on `nodes`, its errors ignored, closed when the test ends. */
async function clusterClient(kind: 'ioredis' | 'node-redis', nodes: { host: string; port: number }[]): Promise<object> {
  if (kind === 'ioredis') {
    const c = new Cluster(nodes);
    c.on('error', () => {});
    onTestFinished(() => c.disconnect());
    return c;
  }
  const c = createCluster({ rootNodes: nodes.map((socket) => ({ socket })) });
  c.on('error', () => {});
  await c.connect();
  onTestFinished(() => c.destroy());
  return c;
}

/** Script calls sent to these nodes since their last CONFIG RESETSTAT (EVALSHA: one a call, NOSCRIPT or not). */
async function scriptCalls(nodes: readonly Redis[]): Promise<number> {
  const infos = await Promise.all(nodes.map((node) => node.info('commandstats')));
  return infos
    .flatMap((info) => [...info.matchAll(/^cmdstat_evalsha:calls=(\d+)/gm)])
    .reduce((sum, m) => sum + Number(m[1]), 0);
}

/**
 * Starts moving the slot of `key` (under the store's prefix) from the primary holding it to the
 * next one (IMPORTING, MIGRATING), as `redis-cli --cluster reshard` does; `move(n)` migrates the
 * slot's first n keys (all by default), `finish()` gives the slot to its new primary on every node.
 */
async function reshard(key: string) {
  const nodes = ioredis.nodes('master');
  const slot = Number(await nodes[0]!.cluster('KEYSLOT', `resilience:${key}`));
  const ids = await Promise.all(nodes.map((node) => node.cluster('MYID')));
  const counts = await Promise.all(nodes.map((node) => node.cluster('COUNTKEYSINSLOT', slot)));
  const [from, to] = [counts.findIndex((n) => Number(n) > 0), counts.findIndex((n) => Number(n) === 0)];
  await nodes[to]!.cluster('SETSLOT', slot, 'IMPORTING', ids[from]!);
  await nodes[from]!.cluster('SETSLOT', slot, 'MIGRATING', ids[to]!);
  await nodes[to]!.script('FLUSH'); // the new primary has never run the scripts
  const keys = (await nodes[from]!.cluster('GETKEYSINSLOT', slot, 100)) as string[];
  return {
    async move(n = keys.length) {
      const port = String(nodes[to]!.options.port);
      for (const k of keys.splice(0, n)) await nodes[from]!.migrate('127.0.0.1', port, k, 0, 10_000);
    },
    async finish() {
      for (const node of nodes) await node.cluster('SETSLOT', slot, 'NODE', ids[to]!);
    },
  };
}

const limits = () => [fixedWindow({ limit: 2, windowMs: 60_000 }), gcra({ limit: 100, periodMs: 60_000 })];
/**
 * A store and limiters on the caller's clock, held still: a fixed window starts at a multiple of
 * windowMs, so on Redis's own clock a test that crossed a minute's turn met a fresh window mid-test.
 */
const held = (client: object) => {
  const clock = new FakeClock();
  return { clock, store: redisStore({ client, timeoutMs: 10_000, time: 'caller', clock }) };
};

it('computes the slot of a key as Redis does (CLUSTER KEYSLOT), to tell which primary a failure belongs to', async () => {
  const keys = ['a', 'resilience:{rl:api|u-1}|0.gcra', '{}x', 'x{}y{z}', '{a}{b}', 'no}tag{', 'é{ü}', 'x{y'];
  const sent = [...keys, ...keys.map((k) => Buffer.from(k)), Buffer.from([0x7b, 0xed, 0xa0, 0x80, 0xff, 0x7d])];
  const expected = await Promise.all(sent.map((k) => ioredis.cluster('KEYSLOT', k)));
  expect(sent.map(slotOf)).toEqual(expected.map(Number));
});

describe.each([
  ['ioredis Cluster', () => ioredis as object],
  ['node-redis cluster', () => nodeRedis as object],
])('redisStore on a Redis Cluster through %s', (label, client) => {
  it('spreads keys over every primary; a key’s several limits share a slot and are checked all-or-nothing', async () => {
    const { store, clock } = held(client());
    const limiter = rateLimiter({ algorithm: limits(), store, name: 'api', clock });
    const users = Array.from({ length: 30 }, (_, i) => `user-${i}`);
    for (const user of users) {
      expect((await limiter.consume(user)).allowed).toBe(true);
      expect((await limiter.consume(user)).allowed).toBe(true);
      expect((await limiter.consume(user)).allowed).toBe(false);
    }
    const perPrimary = await Promise.all(ioredis.nodes('master').map((node) => node.dbsize()));
    expect(perPrimary.every((n) => n > 0)).toBe(true);
    expect(perPrimary.reduce((a, b) => a + b)).toBe(60);
    const slots = new Set(
      await Promise.all(
        ['0.fixedWindow', '1.gcra'].map((s) => ioredis.cluster('KEYSLOT', `resilience:{rl:api|user-7}|${s}`)),
      ),
    );
    expect(slots.size).toBe(1);
    const listed = await store.keys(storeNamespace('rl', 'api'), 0);
    expect(listed.length).toBe(60);
    expect((await store.keys('', 0, { limit: 7 })).length).toBe(7);
  });

  it('spreads keys holding a } over the primaries as any other key; one key’s limits still share a slot', async () => {
    const { store, clock } = held(client());
    const limiter = rateLimiter({ algorithm: limits(), store, name: 'braces', clock, denialCache: false });
    // Without care the hash tag would end at the user's first }: every such key in one slot.
    const users = Array.from({ length: 30 }, (_, i) => (i % 2 ? `}${i}` : `a}{b}${i}}`));
    for (const user of users) expect((await limiter.consume(user)).allowed, user).toBe(true);
    // In one tick: decisions grouped by slot, none meets CROSSSLOT.
    const decisions = await Promise.all([...users, ...users].map((user) => limiter.consume(user)));
    expect(decisions.map((d) => d.allowed)).toEqual([...users.map(() => true), ...users.map(() => false)]);
    const perPrimary = await Promise.all(ioredis.nodes('master').map((node) => node.dbsize()));
    expect(perPrimary.every((n) => n > 0)).toBe(true);
    const namespace = storeNamespace('rl', 'braces');
    const listed = await store.keys(namespace, 0);
    expect(listed.sort()).toEqual(
      users.flatMap((u) => ['0.fixedWindow', '1.gcra'].map((s) => `${storeKey(namespace, u)}|${s}`)).sort(),
    );
    expect((await store.keys(`${namespace}}1`, 0)).length).toBe(2 * 6); // }1, }11, }13, … }19
    const key = storeKey(namespace, '}x}');
    await store.set(key, [1], 60_000, 0);
    expect(await store.get(key, 0)).toEqual([1]);
    expect(await store.delete(key)).toBe(true);
  });

  it('keeps a key holding a lone surrogate apart from U+FFFD, in its slot, and lists it as it is', async () => {
    const { store, clock } = held(client());
    const limiter = rateLimiter({ algorithm: limits(), store, name: 'chars', clock, denialCache: false });
    const names = Array.from({ length: 6 }, (_, i) => [`u${i}\uD800`, `u${i}\uFFFD`]).flat();
    for (const name of names) expect((await limiter.consume(name)).allowed, name).toBe(true);
    const decisions = await Promise.all(names.map((name) => limiter.consume(name)));
    expect(decisions.map((d) => d.remaining)).toEqual(names.map(() => 0));
    const listed = await store.keys(storeNamespace('rl', 'chars'), 0);
    const base = (name: string) => storeKey(storeNamespace('rl', 'chars'), name);
    expect(listed.map((key) => key.replace(/\|\d\.\w+$/, '')).sort()).toEqual(
      names.flatMap((n) => [base(n), base(n)]).sort(),
    );
  });

  it('keeps running after SCRIPT FLUSH on every node', async () => {
    const store = redisStore({ client: client(), timeoutMs: 10_000 });
    const limiter = rateLimiter({ algorithm: tokenBucket({ capacity: 2 }), store, name: 'flush' });
    const records = idempotency({ store });
    await limiter.consume('a');
    await Promise.all(ioredis.nodes('master').map((node) => node.script('FLUSH')));
    expect((await limiter.consume('a')).remaining).toBe(0);
    expect(await records.execute('k', () => 'once')).toBe('once');
    expect(await records.execute('k', () => 'twice')).toBe('once');
    const key = storeKey(storeNamespace('t'), 'x');
    await store.set(key, [1], 1_000, 0);
    expect(await store.get(key, 0)).toEqual([1]);
  });

  it('sends a burst of one key’s decisions in one script call, and decisions of keys in other slots apart', async () => {
    const store = redisStore({ client: client(), timeoutMs: 10_000 });
    const limiter = rateLimiter({
      algorithm: tokenBucket({ capacity: 10, refillPerSecond: 1e-6 }),
      store,
      name: 'burst',
      denialCache: false,
    });
    const users = Array.from({ length: 12 }, (_, i) => `user-${i}`);
    await Promise.all(users.map((user) => limiter.peek(user)));
    const masters = ioredis.nodes('master');
    await Promise.all(masters.map((node) => node.config('RESETSTAT')));
    const burst = await Promise.all(Array.from({ length: 30 }, () => limiter.consume('hot')));
    expect(burst.filter((d) => d.allowed)).toHaveLength(10);
    expect(await scriptCalls(masters)).toBe(2); // 30 of one slot: two calls of 15 (SPLIT_AT)
    // Interleaved users, each in its own slot: every decision goes alone, and none meets CROSSSLOT.
    const spread = await Promise.all([...users, ...users].map((user) => limiter.consume(user)));
    expect(spread.map((d) => d.remaining)).toEqual([...users.map(() => 9), ...users.map(() => 8)]);
    // (EVALSHA calls only: a NOSCRIPT answer, on a node that had not run the script, counts as one.)
    expect(await scriptCalls(masters)).toBe(2 + 2 * users.length);
  });

  it('follows a reshard: a moving key is decided where it is (ASK, the script loaded anew there), then where it went (MOVED), once each; a limit set half moved fails (TRYAGAIN) and passes degraded, uncounted', async () => {
    const { store, clock } = held(client());
    const suffix = label.split(' ')[0];
    const one = rateLimiter({
      algorithm: fixedWindow({ limit: 6, windowMs: 600_000 }),
      store,
      name: `one-${suffix}`,
      clock,
    });
    const two = rateLimiter({ algorithm: limits(), store, name: `two-${suffix}`, denialCache: false, clock });
    const allowed = async (limiter: typeof one, n: number) => {
      const decisions = [];
      for (let i = 0; i < n; i++) decisions.push(await limiter.consume('u'));
      return decisions.map((d) => (d.degraded ? 'degraded' : d.allowed));
    };
    expect(await allowed(one, 2)).toEqual([true, true]);
    const moving = await reshard(storeKey(storeNamespace('rl', `one-${suffix}`), 'u'));
    await moving.move();
    expect(await allowed(one, 2)).toEqual([true, true]); // by ASK, on the importing primary
    await moving.finish();
    expect(await allowed(one, 3)).toEqual([true, true, false]); // by MOVED: 6 in all, each counted once
    expect(await allowed(two, 1)).toEqual([true]);
    const half = await reshard(`${storeKey(storeNamespace('rl', `two-${suffix}`), 'u')}|0.fixedWindow`);
    await half.move(1); // one of the two limits' keys moved: Redis refuses the script (TRYAGAIN)
    expect(await allowed(two, 1)).toEqual(['degraded']);
    await half.move();
    await half.finish();
    expect(await allowed(two, 2)).toEqual([true, false]); // the degraded decision took nothing
  });

  it('keys() rejects with StoreUnavailableError rather than list nothing while the cluster client knows no primary', async () => {
    const idle = new Cluster(
      cluster.ports.map((port) => ({ host: '127.0.0.1', port })),
      { lazyConnect: true },
    );
    const error = await redisStore({ client: idle })
      .keys('', 0)
      .catch((e: unknown) => e);
    expect(isStoreUnavailableError(error)).toBe(true);
    idle.disconnect();
  });
});

/** The `ACL SETUSER` lines of docs/redis.md (the store's user, then what a Cluster adds), as words. */
function docsAcl(): string[][] {
  const docs = readFileSync(fileURLToPath(new URL('../../../docs/redis.md', import.meta.url)), 'utf8');
  return [...docs.matchAll(/^ACL SETUSER .*$/gm)].map((line) =>
    line[0].split(' ').map((w) => w.replace(/^'(.*)'$/, '$1')),
  );
}

describe('redisStore on a Redis Cluster over a Redis ACL user', () => {
  for (const kind of ['ioredis', 'node-redis'] as const) {
    it(`connects and runs every kind of operation with what docs/redis.md grants on every node (${kind})`, async () => {
      const lines = docsAcl();
      expect(lines.length).toBeGreaterThan(1);
      for (const node of ioredis.nodes('master')) for (const [acl, ...words] of lines) await node.call(acl!, ...words);
      const user = { username: lines[0]![2]!, password: 'secret' };
      const nodes = cluster.ports.map((port) => ({ host: '127.0.0.1', port }));
      const connect = async (): Promise<object> => {
        if (kind === 'ioredis') {
          const io = new Cluster(nodes, { lazyConnect: true, redisOptions: user, clusterRetryStrategy: () => null });
          io.on('error', () => undefined);
          onTestFinished(() => io.disconnect());
          await io.connect();
          return io;
        }
        const node = createCluster({ rootNodes: nodes.map((socket) => ({ socket })), defaults: user });
        node.on('error', () => undefined);
        await node.connect();
        onTestFinished(() => node.destroy());
        return node;
      };
      const store = redisStore({ client: await connect(), subscriber: await connect(), timeoutMs: 5_000 });
      const one = rateLimiter({ algorithm: tokenBucket({ capacity: 5 }), store, name: 'acl', onStoreError: 'closed' });
      const two = rateLimiter({ algorithm: limits(), store, name: 'acl-two', onStoreError: 'closed' });
      expect((await Promise.all([1, 2, 3].map(() => one.consume('v')))).map((d) => d.remaining)).toEqual([4, 3, 2]);
      expect(await two.consume('u')).toMatchObject({ allowed: true });
      expect(await idempotency({ store }).execute('order-1', () => 'ran')).toBe('ran');
      const key = storeKey(storeNamespace('test', 'acl'), 'k');
      await store.set(key, { a: 1 }, 60_000, 0);
      expect(await store.keys(storeNamespace('test', 'acl'), 0)).toEqual([key]);
      const errors: unknown[] = [];
      const breaker = circuitBreaker({ store, name: `acl-${kind}`, strategy: consecutive(1), registry: false });
      breaker.onEvent((e) => e.type === 'store_error' && errors.push(e.error));
      await breaker.execute(() => Promise.reject(new Error('down'))).catch(() => undefined);
      await breaker.sync();
      // Its SUBSCRIBE was let through too: the channel has its subscriber, on whichever node.
      const channel = `resilience:{breaker|acl-${kind}}`;
      const subscribers = async () => {
        const counts = await Promise.all(ioredis.nodes('master').map((n) => n.pubsub('NUMSUB', channel)));
        return counts.reduce((sum: number, c) => sum + Number((c as unknown[])[1]), 0);
      };
      while ((await subscribers()) < 1);
      breaker.dispose();
      expect(errors).toEqual([]);
    });
  }
});

describe.each([
  ['ioredis Cluster (default options: a dead primary’s commands wait)', 'ioredis'],
  ['node-redis cluster', 'node-redis'],
] as const)('redisStore on a Redis Cluster with one of three primaries dead, through %s', (_label, kind) => {
  it('keeps deciding the keys of the live primaries; only the dead one’s keys fail (onStoreError), fast after one timeout', async () => {
    // Full coverage off: the live primaries keep serving their slots once the cluster marks the dead one failed.
    const own = await startCluster(['--cluster-require-full-coverage', 'no']);
    onTestFinished(() => own.stop());
    const nodes = own.ports.map((port) => ({ host: '127.0.0.1', port }));
    const admin = new Cluster(nodes);
    onTestFinished(() => admin.disconnect());
    const client = await clusterClient(kind, nodes);
    const clock = new FakeClock();
    const store = redisStore({ client, timeoutMs: 200, clock });
    const limiter = rateLimiter({
      algorithm: tokenBucket({ capacity: 100 }),
      store,
      name: 'dead',
      clock,
      onStoreError: 'open',
      denialCache: false,
    });
    // Users whose keys live on the first primary (to be killed) and on the two others.
    const slots = await admin.cluster('SLOTS');
    const ownerOf = async (user: string) => {
      const key = `resilience:${storeKey(storeNamespace('rl', 'dead'), user)}`;
      const slot = Number(await admin.cluster('KEYSLOT', key));
      return own.ports.indexOf(slots.find(([from, to]) => slot >= from && slot <= to)![2]![1]);
    };
    const users: string[][] = [[], [], []];
    for (let i = 0; users.some((u) => u.length < 2); i++) users[await ownerOf(`user-${i}`)]!.push(`user-${i}`);
    const [doomed, ...live] = users.map((u) => u.slice(0, 2));
    const alive = live.flat();
    for (const user of [...doomed!, ...alive]) expect((await limiter.consume(user)).degraded).toBeUndefined();
    await own.nodes[0]!.kill();
    const first = limiter.consume(doomed![0]!);
    await clock.advance(200); // no answer within timeoutMs
    expect(await first).toMatchObject({ allowed: true, degraded: true });
    // The live primaries' keys are decided by Redis, every one of them (none refused as "Redis silent").
    const decisions = await Promise.all([...alive, ...alive].map((user) => limiter.consume(user)));
    expect(decisions.map((d) => [d.allowed, d.degraded, d.remaining])).toEqual(
      [98, 98, 98, 98, 97, 97, 97, 97].map((remaining) => [true, undefined, remaining]),
    );
    // The dead primary's keys: one probe goes out per timeoutMs, the others fail at once.
    const probe = limiter.consume(doomed![1]!);
    const refused = await Promise.all(doomed!.map((user) => limiter.consume(user)));
    expect(refused.map((d) => d.degraded)).toEqual([true, true]);
    await clock.advance(200);
    expect(await probe).toMatchObject({ allowed: true, degraded: true });
    expect((await limiter.consume(alive[0]!)).remaining).toBe(96);
    // Every other operation too (records, breakers and saga logs run as these do): by the key's primary.
    const key = (user: string) => `${storeKey(storeNamespace('rl', 'dead'), user)}|record`;
    await store.set(key(alive[1]!), { ok: 1 }, 60_000, 0);
    expect(await store.get(key(alive[1]!), 0)).toEqual({ ok: 1 });
    const lost = store.get(key(doomed![0]!), 0).catch((e: unknown) => e); // the dead primary's probe
    expect(isStoreUnavailableError(await store.get(key(doomed![1]!), 0).catch((e: unknown) => e))).toBe(true);
    await clock.advance(200);
    expect(isStoreUnavailableError(await lost)).toBe(true);
  }, 120_000);
});

describe.each([
  ['ioredis Cluster', 'ioredis'],
  ['node-redis cluster', 'node-redis'],
] as const)('keys() on a Redis Cluster with one of three primaries dead, through %s', (_label, kind) => {
  it('rejects with StoreUnavailableError rather than list the live primaries’ keys as if they were all', async () => {
    const own = await startCluster(['--cluster-require-full-coverage', 'no']);
    onTestFinished(() => own.stop());
    const nodes = own.ports.map((port) => ({ host: '127.0.0.1', port }));
    const client = await clusterClient(kind, nodes);
    const clock = new FakeClock();
    const store = redisStore({ client, timeoutMs: 200, clock });
    const keys = Array.from({ length: 30 }, (_, i) => `listed|${i}`); // on every primary
    for (const key of keys) await store.set(key, { i: 1 }, 60_000, 0);
    expect((await store.keys('listed|', 0)).sort()).toEqual([...keys].sort());
    await own.nodes[0]!.kill();
    const listed = store.keys('listed|', 0).catch((e: unknown) => e);
    await clock.advance(200); // the dead primary's SCAN: no answer within timeoutMs, or refused before
    expect(isStoreUnavailableError(await listed)).toBe(true);
  }, 120_000);
});
