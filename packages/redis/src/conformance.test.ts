/**
 * Core's store conformance suite, unchanged, against real Redis: a single redis-server
 * through ioredis and through node-redis, and a three-primary Redis Cluster through
 * ioredis's Cluster. `time: 'caller'`, as the suite drives time through `now`.
 */
import { runStoreConformance } from '@resilience/core/testing';
import { Cluster, Redis } from 'ioredis';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { type RedisCluster, type RedisServer, startCluster, startRedis } from './testing/servers.js';
import { type RedisStore, redisStore } from './testing/untimed.js';

let single: RedisServer;
let cluster: RedisCluster;
let ioredis: Redis;
let ioredisCluster: Cluster;
let nodeRedis: ReturnType<typeof createClient>;

beforeAll(async () => {
  [single, cluster] = await Promise.all([startRedis(), startCluster()]);
  ioredis = new Redis({ port: single.port, host: '127.0.0.1' });
  ioredisCluster = new Cluster(cluster.ports.map((port) => ({ host: '127.0.0.1', port })));
  nodeRedis = createClient({ socket: { port: single.port, host: '127.0.0.1' } });
  await nodeRedis.connect();
}, 120_000);

afterAll(async () => {
  ioredis?.disconnect();
  ioredisCluster?.disconnect();
  await nodeRedis?.close();
  await Promise.all([single?.stop(), cluster?.stop()]);
});

// Generous: these runs check behaviour, not speed, on a machine that may be busy.
const store = (client: object): RedisStore => redisStore({ client, time: 'caller', timeoutMs: 10_000 });
const runner = { describe, it: (name: string, body: () => Promise<void>) => it(name, body, 60_000) };

runStoreConformance(
  'redisStore over ioredis, one server',
  async () => {
    await ioredis.flushall();
    return store(ioredis);
  },
  runner,
);

runStoreConformance(
  'redisStore over an ioredis Cluster of three primaries',
  async () => {
    await Promise.all(ioredisCluster.nodes('master').map((node) => node.flushall()));
    return store(ioredisCluster);
  },
  runner,
);

runStoreConformance(
  'redisStore over node-redis, one server',
  async () => {
    await nodeRedis.flushAll();
    return store(nodeRedis);
  },
  runner,
);
