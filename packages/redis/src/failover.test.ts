/**
 * After a failover: a client still connected to the former primary, now a replica, gets
 * READONLY for every write. The store rejects with StoreUnavailableError saying so, and the
 * client options docs/redis.md#failover gives make the next calls reach the new primary.
 */
import { once } from 'node:events';
import { setTimeout as delay } from 'node:timers/promises';
import { isStoreUnavailableError, rateLimiter, tokenBucket } from '@resilience/core';
import { Cluster, Redis } from 'ioredis';
import { createClient, createCluster } from 'redis';
import { afterEach, describe, expect, it } from 'vitest';
import { startProxy } from './testing/proxy.js';
import { type RedisServer, startCluster, startRedis } from './testing/servers.js';
import { redisStore } from './testing/untimed.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Polls `check` (a server's own answer, no timing threshold) until it holds. */
async function until(check: () => Promise<boolean>): Promise<void> {
  for (let tries = 0; !(await check()); tries++) {
    if (tries > 600) throw new Error('never happened');
    await delay(20);
  }
}

/** A primary and its replica, replicating; `failover()` swaps them (Redis's FAILOVER, as an operator or a managed service does). */
async function pair() {
  const servers: RedisServer[] = [await startRedis(), await startRedis()];
  cleanups.push(() => Promise.all(servers.map((s) => s.stop())));
  const admin = servers.map((s) => new Redis({ port: s.port, host: '127.0.0.1' }));
  cleanups.push(() => {
    for (const a of admin) a.disconnect();
  });
  await admin[1]!.replicaof('127.0.0.1', servers[0]!.port);
  const linked = (i: number) => async () => (await admin[i]!.info('replication')).includes('master_link_status:up');
  await until(linked(1));
  return {
    primary: servers[0]!.port,
    replica: servers[1]!.port,
    async failover() {
      await admin[0]!.call('FAILOVER');
      await until(async () => (await admin[0]!.info('replication')).includes('role:slave'));
      await until(linked(0));
    },
  };
}

const limiter = (client: object) =>
  rateLimiter({
    algorithm: tokenBucket({ capacity: 5, refillPerSecond: 0.001 }), // no refill within a test: counts read as taken
    store: redisStore({ client, timeoutMs: 5_000 }),
    name: 'failover',
    onStoreError: 'closed',
  });

const READONLY_HINT =
  /^redisStore: apply of ratelimit\.tokenBucket failed: READONLY .* \(Redis answered as a read-only replica: the client is connected to a former primary; see docs\/redis\.md#failover\)$/;

describe('after a failover on one server and its replica', () => {
  for (const kind of ['ioredis', 'node-redis'] as const) {
    it(`rejects the writes sent to the former primary with StoreUnavailableError saying it is a replica now (${kind})`, {
      timeout: 60_000,
    }, async () => {
      const { primary, failover } = await pair();
      let client: object;
      if (kind === 'ioredis') {
        const io = new Redis({ port: primary, host: '127.0.0.1' });
        cleanups.push(() => io.disconnect());
        client = io;
      } else {
        const node = createClient({ socket: { port: primary, host: '127.0.0.1' } });
        node.on('error', () => undefined);
        await node.connect();
        cleanups.push(() => node.close());
        client = node;
      }
      const l = limiter(client);
      expect(await l.consume('user-42')).toMatchObject({ allowed: true, remaining: 4 });
      await failover();
      const error = await l.consume('user-42').catch((e: unknown) => e);
      expect(isStoreUnavailableError(error)).toBe(true);
      expect((error as Error).message).toMatch(READONLY_HINT);
      // A burst shares one script call: each decision is refused the same way.
      const burst = await Promise.all([1, 2, 3].map(() => l.consume('user-42').catch((e: Error) => e.message)));
      expect(burst).toEqual(burst.map(() => expect.stringMatching(/READONLY .*read-only replica.*#failover\)$/)));
      // A peek writes nothing: the replica answers it, with the count it replicated.
      expect(await l.peek('user-42')).toMatchObject({ remaining: 4 });
    });
  }

  it('follows the primary behind one address with ioredis reconnectOnError on READONLY, as docs/redis.md#failover says', {
    timeout: 60_000,
  }, async () => {
    const { primary, replica, failover } = await pair();
    // The address clients are given (a DNS name, a managed service's endpoint): a proxy, moved after the failover.
    const address = await startProxy(primary);
    cleanups.push(() => address.close());
    const client = new Redis({
      port: address.port,
      host: '127.0.0.1',
      reconnectOnError: (error) => error.message.startsWith('READONLY'),
    });
    cleanups.push(() => client.disconnect());
    const l = limiter(client);
    expect(await l.consume('user-42')).toMatchObject({ remaining: 4 });
    await failover();
    address.retarget(replica);
    // The first write after the failover is refused (READONLY) and makes the client reconnect...
    expect(await l.consume('user-42').catch((e: Error) => e.message)).toMatch(READONLY_HINT);
    await once(client, 'ready');
    // ...to the new primary, which holds the count the old one replicated to it.
    expect(await l.consume('user-42')).toMatchObject({ allowed: true, remaining: 3 });
  });
});

describe('after a failover in a Redis Cluster', () => {
  it('keeps deciding the keys of a primary that failed over to its replica: MOVED is followed (ioredis and node-redis)', async () => {
    const cluster = await startCluster();
    cleanups.push(() => cluster.stop());
    // A replica of the first primary, joined as redis-cli --cluster add-node --cluster-slave does.
    const node = await startRedis(['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf'], true);
    cleanups.push(() => node.stop());
    const [first, added] = [cluster.ports[0]!, node.port].map((port) => new Redis({ port, host: '127.0.0.1' })) as [
      Redis,
      Redis,
    ];
    cleanups.push(() => {
      for (const c of [first, added]) c.disconnect();
    });
    await added.cluster('MEET', '127.0.0.1', cluster.ports[0]!);
    const id = String(await first.cluster('MYID'));
    await until(async () => String(await added.cluster('NODES')).includes(id));
    await added.cluster('REPLICATE', id);
    await until(async () => (await added.info('replication')).includes('master_link_status:up'));
    // Keys of the first primary's slots, one per client.
    const ranges = String(await first.cluster('NODES'))
      .split('\n')
      .find((line) => line.includes('myself'))!
      .split(' ')
      .slice(8)
      .map((range) => range.split('-').map(Number) as [number, number?]);
    const keys: string[] = [];
    for (let k = 0; keys.length < 2; k++) {
      const slot = Number(await first.cluster('KEYSLOT', `resilience:{rl:failover|${k}}`));
      if (ranges.some(([lo, hi = lo]) => slot >= lo && slot <= hi)) keys.push(String(k));
    }
    const roots = cluster.ports.map((port) => ({ host: '127.0.0.1', port }));
    const io = new Cluster(roots);
    cleanups.push(() => io.disconnect());
    await once(io, 'ready');
    const nr = createCluster({ rootNodes: roots.map((socket) => ({ socket })) });
    nr.on('error', () => undefined);
    await nr.connect();
    cleanups.push(() => nr.close());
    const limiters = [limiter(io), limiter(nr)];
    for (const [i, l] of limiters.entries()) expect(await l.consume(keys[i]!)).toMatchObject({ remaining: 4 });
    await added.cluster('FAILOVER');
    await until(async () => (await first.info('replication')).includes('role:slave'));
    // Both clients still send to the former primary first: it answers MOVED, and they follow it.
    for (const [i, l] of limiters.entries()) {
      for (const remaining of [3, 2, 1]) expect(await l.consume(keys[i]!)).toMatchObject({ allowed: true, remaining });
    }
  }, 120_000);
});
