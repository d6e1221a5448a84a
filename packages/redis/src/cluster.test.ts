/**
 * On a three-primary Redis Cluster: keys spread over every primary, the keys of one caller
 * key share a slot (so a limiter's several limits and `applyAll` never meet CROSSSLOT),
 * `keys()` scans every primary, and a `SCRIPT FLUSH` on every node breaks nothing.
 */
import {
  fixedWindow,
  gcra,
  idempotency,
  isStoreUnavailableError,
  rateLimiter,
  storeKey,
  storeNamespace,
  tokenBucket,
} from '@resilience/core';
import { Cluster } from 'ioredis';
import { createCluster } from 'redis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { redisStore } from './index.js';
import { type RedisCluster, startCluster } from './testing/servers.js';

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

const limits = () => [fixedWindow({ limit: 2, windowMs: 60_000 }), gcra({ limit: 100, periodMs: 60_000 })];

describe.each([
  ['ioredis Cluster', () => ioredis as object],
  ['node-redis cluster', () => nodeRedis as object],
])('redisStore on a Redis Cluster through %s', (_, client) => {
  it('spreads keys over every primary; a key’s several limits share a slot and are checked all-or-nothing', async () => {
    const store = redisStore({ client: client(), timeoutMs: 10_000 });
    const limiter = rateLimiter({ algorithm: limits(), store, name: 'api' });
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
