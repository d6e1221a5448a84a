/**
 * A Redis restart: what the store's state survives with and without persistence, as
 * docs/redis.md#persistence-and-restarts says. The server is killed (SIGKILL, as a crash or an
 * OOM kill would) and started again on the same port and directory while a saga runs.
 */
import { circuitBreaker, consecutive, idempotency, saga } from '@resilience/core';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { startRedis } from './testing/servers.js';
import { redisStore } from './testing/untimed.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function restartWhileASagaRuns(extra: readonly string[]) {
  const server = await startRedis(extra);
  cleanups.push(() => server.stop());
  const client = new Redis({ port: server.port, host: '127.0.0.1' }); // its offline queue waits out the restart
  client.on('error', () => undefined);
  cleanups.push(() => client.disconnect());
  const store = redisStore({ client, timeoutMs: 10_000 });
  const breaker = () => circuitBreaker({ store, name: 'payments', strategy: consecutive(1), sync: 'per-call' });
  await breaker().isolate(); // an operator takes the dependency out
  const payments = idempotency({ store, keyPrefix: 'restart' });
  let charged = 0;
  await payments.execute('order-1', () => ++charged);
  const undone: string[] = [];
  const checkout = saga('checkout', { store })
    .step({
      name: 'reserve',
      run: async () => {
        await server.kill();
        await server.restart();
        await client.ping(); // reconnected
        return 'r-1';
      },
      compensate: () => {
        undone.push('reserve');
      },
    })
    .step({
      name: 'charge',
      run: () => {
        throw new Error('declined');
      },
    });
  const report = await checkout.execute({ order: 1 }, { id: 'o-1' });
  const isolated = await breaker()
    .execute(() => 'ran')
    .catch((e: { code?: string }) => e.code);
  await payments.execute('order-1', () => ++charged);
  return { saga: report.status, undone, recovered: (await checkout.recover()).length, isolated, charged };
}

describe('a Redis restart', () => {
  it('without persistence loses every key: an isolation, a completed idempotency key, a running saga’s log (its steps never compensated)', async () => {
    expect(await restartWhileASagaRuns([])).toEqual({
      saga: 'cancelled', // its next log write found no log, as when recover() has taken it over
      undone: [],
      recovered: 0, // and no log is left for recover()
      isolated: 'ran',
      charged: 2,
    });
  }, 60_000);

  it('with appendonly yes and appendfsync always keeps them: the saga compensates, the isolation holds, the key replays', async () => {
    expect(await restartWhileASagaRuns(['--appendonly', 'yes', '--appendfsync', 'always'])).toEqual({
      saga: 'compensated',
      undone: ['reserve'],
      recovered: 0,
      isolated: 'circuit_isolated',
      charged: 1,
    });
  }, 60_000);
});
