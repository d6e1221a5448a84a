import { pathToFileURL } from 'node:url';
import { circuitBreaker, consecutive, rateLimiter, tokenBucket } from '@resilience/core';
import { redisStore } from '@resilience/redis';
import { Redis } from 'ioredis';
import { RateLimiterRedis } from 'rate-limiter-flexible';
import { type Monitor, monitor } from '../../../../packages/redis/src/testing/monitor.js';
import { startRedis } from '../../../../packages/redis/src/testing/servers.js';
import { judge, type SuiteOptions } from '../harness.js';

// Decisions per second against one local redis-server (started here, on a free loopback
// port, with no persistence), 50 calls in flight at once over one ioredis connection, all in
// one run: a bare PING (the most one round trip can do), our rate limiter, and
// rate-limiter-flexible's RateLimiterRedis; keys never limited, and keys already denied.
// Round trips per decision and per breaker call are counted twice: with MONITOR (every
// command a client sends, those scripts run left out) and with INFO commandstats (its
// EVALSHA and EVAL calls, which no script can send; its other counts include what scripts run).
// Our limiter's decisions made in one tick share one script call (see docs/redis.md), so at
// 50 in flight it sends about one EVALSHA per burst of answers; the round-trip rows make one
// call after another, so each decision there is a script call of its own.
// Targets: ours >= 0.85 x PING for allowed consumes; beyond PING for denied keys (the
// denial cache); exactly 1 round trip per decision.

const CONCURRENCY = 50;
let keys = 10_000;
const keyOf = (i: number) => `user:${i % keys}`;

/** Decisions per second of `op` with CONCURRENCY calls in flight until `total` are done. */
async function rate(op: (i: number) => Promise<unknown>, total: number): Promise<number> {
  let next = 0;
  const worker = async () => {
    while (next < total) await op(next++);
  };
  const start = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return (total / (performance.now() - start)) * 1_000;
}

/** EVALSHA and EVAL calls the server has run so far, by INFO commandstats. */
async function scriptCalls(client: Redis): Promise<number> {
  const info = await client.info('commandstats');
  return [...info.matchAll(/^cmdstat_(?:evalsha|eval):calls=(\d+)/gm)].reduce((sum, m) => sum + Number(m[1]), 0);
}

interface RoundTrips {
  /** Commands clients sent, per call (MONITOR). */
  monitor: number;
  /** The kinds of those commands, e.g. `evalsha 100`. */
  commands: string;
  /** EVALSHA + EVAL calls per call (INFO commandstats). */
  commandstats: number;
}

/** Round trips per call of `op`, over `calls` calls one after another. */
async function roundTrips(
  watch: Monitor,
  client: Redis,
  calls: number,
  op: (i: number) => Promise<unknown>,
): Promise<RoundTrips> {
  const before = await scriptCalls(client);
  const sent = await watch.commands(async () => {
    for (let i = 0; i < calls; i++) await op(i);
  });
  const scripts = (await scriptCalls(client)) - before;
  const kinds = new Map<string, number>();
  for (const c of sent) kinds.set(c.split(' ')[0]!, (kinds.get(c.split(' ')[0]!) ?? 0) + 1);
  const commands = [...kinds].map(([name, n]) => `${name} ${n}`).join(', ') || 'none';
  return { monitor: sent.length / calls, commands, commandstats: scripts / calls };
}

export interface RedisFigures {
  /** Median decisions per second by task. */
  perSecond: Record<string, number>;
  /** Round trips per call by call. */
  roundTrips: Record<string, RoundTrips>;
}

const fmt = (perSecond: number) => `${(perSecond / 1_000).toFixed(1)} k/s`;

export default async function redisSuite(opts: SuiteOptions): Promise<RedisFigures> {
  keys = opts.quick ? 1_000 : 10_000;
  const server = await startRedis();
  const client = new Redis({ port: server.port, host: '127.0.0.1', enableOfflineQueue: false, lazyConnect: true });
  await client.connect();
  try {
    const store = redisStore({ client, timeoutMs: 1_000 });
    const open = rateLimiter({
      algorithm: tokenBucket({ capacity: 1e12, refillPerSecond: 1e12 }),
      store,
      name: 'open',
    });
    const shut = rateLimiter({ algorithm: tokenBucket({ capacity: 1, refillPerSecond: 1e-6 }), store, name: 'shut' });
    const rlfOpen = new RateLimiterRedis({ storeClient: client, points: 1e12, duration: 3_600, keyPrefix: 'rlf-o' });
    const rlfShut = new RateLimiterRedis({ storeClient: client, points: 1, duration: 3_600, keyPrefix: 'rlf-s' });
    const denied = () => undefined;
    for (let i = 0; i < keys; i++) {
      await shut.consume(keyOf(i));
      await rlfShut.consume(keyOf(i)).catch(denied);
    }
    // The least any script call costs: EVALSHA of a script that returns a constant at once.
    const bare = (await client.script('LOAD', "return 'ok'")) as string;
    const tasks: [string, (i: number) => Promise<unknown>][] = [
      ['PING', () => client.ping()],
      ['EVALSHA of a script that returns at once', () => client.evalsha(bare, 0)],
      ['ours consume, allowed', (i) => open.consume(keyOf(i))],
      ['RateLimiterRedis consume, allowed', (i) => rlfOpen.consume(keyOf(i))],
      ['ours consume, key already denied', (i) => shut.consume(keyOf(i))],
      ['RateLimiterRedis consume, key already denied', (i) => rlfShut.consume(keyOf(i)).catch(denied)],
    ];
    const total = opts.quick ? 2_000 : 50_000;
    const rounds = opts.quick ? 1 : 3;
    const runs = new Map<string, number[]>(tasks.map(([name]) => [name, []]));
    for (const [, op] of tasks) await rate(op, Math.min(total, 5_000)); // warm-up: JIT, scripts loaded
    // Rounds interleave the tasks, so a busy moment of the machine hits each of them.
    for (let r = 0; r < rounds; r++) for (const [name, op] of tasks) runs.get(name)!.push(await rate(op, total));
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const ping = median(runs.get('PING')!);
    console.log(
      `\n## Redis: decisions per second, ${CONCURRENCY} in flight, one local redis-server${opts.quick ? ' (quick mode: figures not meaningful)' : ''}`,
    );
    console.table(
      [...runs].map(([task, xs]) => ({
        task,
        'median of rounds': fmt(median(xs)),
        'min … max': `${fmt(Math.min(...xs))} … ${fmt(Math.max(...xs))}`,
        '× PING': (median(xs) / ping).toFixed(2),
      })),
    );
    const allowed = median(runs.get('ours consume, allowed')!) / ping;
    const deniedRatio = median(runs.get('ours consume, key already denied')!) / ping;
    console.log(`target  ours allowed / PING = ${allowed.toFixed(3)} (≥ 0.85) ${judge(allowed >= 0.85, opts)}`);
    console.log(`target  ours denied / PING = ${deniedRatio.toFixed(3)} (> 1) ${judge(deniedRatio > 1, opts)}`);

    const calls = opts.quick ? 100 : 2_000;
    const watch = await monitor(new Redis({ port: server.port, host: '127.0.0.1' }));
    const trips: [string, RoundTrips][] = [
      ['limiter consume, allowed (one limit)', await roundTrips(watch, client, calls, (i) => open.consume(keyOf(i)))],
      ['limiter consume, key already denied', await roundTrips(watch, client, calls, (i) => shut.consume(keyOf(i)))],
      ['RateLimiterRedis consume, allowed', await roundTrips(watch, client, calls, (i) => rlfOpen.consume(keyOf(i)))],
    ];
    // Breakers only now: a synchronised one's merge timer would run during the rows above.
    const perCall = circuitBreaker({ store, name: 'per-call', sync: 'per-call', strategy: consecutive(5) });
    await perCall.execute(() => 0);
    trips.push(['breaker call, per-call mode', await roundTrips(watch, client, calls, () => perCall.execute(() => 1))]);
    const synced = circuitBreaker({ store, name: 'synced', strategy: consecutive(5) });
    await synced.execute(() => 0);
    trips.push([
      'breaker call, synchronised (syncMs 1 000; then sync())',
      await roundTrips(watch, client, calls, async (i) => {
        await synced.execute(() => 1);
        if (i === calls - 1) await synced.sync();
      }),
    ]);
    watch.stop();
    console.log(`\n## Redis: round trips per call, ${calls} calls one after another`);
    console.table(
      trips.map(([call, t]) => ({
        call,
        MONITOR: t.monitor.toFixed(4),
        'INFO commandstats (EVALSHA + EVAL)': t.commandstats.toFixed(4),
        commands: t.commands,
      })),
    );
    const exact = trips[0]![1].monitor === 1 && trips[0]![1].commandstats === 1;
    console.log(`target  round trips per allowed decision = 1 ${judge(exact, opts)}`);
    synced.dispose();
    perCall.dispose();
    return {
      perSecond: Object.fromEntries([...runs].map(([task, xs]) => [task, median(xs)])),
      roundTrips: Object.fromEntries(trips),
    };
  } finally {
    client.disconnect();
    await server.stop();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await redisSuite({ quick: process.argv.includes('--quick') });
}
