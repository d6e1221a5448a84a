/**
 * A connection dropped after Redis ran a script but before its answer arrived, through a TCP
 * proxy, on a Redis Cluster with the client options docs/redis.md recommends: the call fails
 * (a limiter passes it degraded) and Redis has counted it once. ioredis's Cluster would
 * otherwise send the command again on a new connection, and its second run would be the
 * answer the caller got. (The single-server case runs the docs' own example: docs.test.ts.)
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { rateLimiter, tokenBucket } from '@resilience/core';
import { Cluster, type ClusterOptions } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startProxy, type TcpProxy } from './testing/proxy.js';
import { type RedisCluster, startCluster } from './testing/servers.js';
import { redisStore } from './testing/untimed.js';

let cluster: RedisCluster;
let proxies: TcpProxy[];

beforeAll(async () => {
  cluster = await startCluster();
  proxies = await Promise.all(cluster.ports.map((port) => startProxy(port)));
}, 120_000);

afterAll(async () => {
  await Promise.all(proxies.map((p) => p.close()));
  await cluster?.stop();
});

/** The options of the Cluster example of docs/redis.md, as written. */
function docsClusterOptions(): ClusterOptions {
  const docs = readFileSync(fileURLToPath(new URL('../../../docs/redis.md', import.meta.url)), 'utf8');
  const literal = /new Cluster\(\[[^\]]*\], (\{[\s\S]*?\n\})\);/.exec(docs)?.[1];
  expect(literal).toBeDefined();
  return new Function(`return (${literal});`)() as ClusterOptions;
}

describe('a reply lost with its connection, on a Redis Cluster', () => {
  it('with the options docs/redis.md recommends, the decision fails and is counted once, not run again', async () => {
    // Each node reached through its own proxy: the cluster's addresses mapped to them.
    const natMap = Object.fromEntries(
      cluster.ports.map((port, i) => [`127.0.0.1:${port}`, { host: '127.0.0.1', port: proxies[i]!.port }]),
    );
    const client = new Cluster(
      proxies.map((p) => ({ host: '127.0.0.1', port: p.port })),
      { ...docsClusterOptions(), natMap },
    );
    client.on('error', () => undefined);
    await client.connect();
    const store = redisStore({ client, timeoutMs: 2_000 });
    const limiter = rateLimiter({
      algorithm: tokenBucket({ capacity: 10, refillPerSecond: 0.001 }),
      store,
      name: 'lost',
      denialCache: false,
    });
    expect(await limiter.consume('k')).toMatchObject({ allowed: true, remaining: 9 });
    const slot = Number(await client.cluster('KEYSLOT', 'resilience:{rl:lost|k}'));
    const shards = await client.cluster('SLOTS');
    const owner = shards.find(([from, to]) => from <= slot && slot <= to)![2]![1];
    const proxy = proxies[cluster.ports.indexOf(owner)]!;
    const lost = proxy.dropNextReply();
    const decision = await limiter.consume('k');
    await lost;
    expect(decision).toMatchObject({ allowed: true, degraded: true });
    // Redis ran it once; the next decision goes out on a new connection.
    expect(await limiter.consume('k')).toMatchObject({ allowed: true, remaining: 7 });
    client.disconnect();
  });
});
