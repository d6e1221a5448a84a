/**
 * One instance of a fleet (see fleet.ts), run as its own node process: its own ioredis
 * client, its own store and its own consumers, driven by the test through IPC messages.
 * Every request answers with `{ id, result }` or `{ id, error }`.
 */
import {
  type Clock,
  circuitBreaker,
  consecutive,
  fixedWindow,
  gcra,
  idempotency,
  isBrokenCircuitError,
  isStoreUnavailableError,
  type RateLimitAlgorithm,
  rateLimiter,
  type SharedCircuitBreaker,
  slidingWindow,
  tokenBucket,
} from '@resilience/core';
import { FakeClock } from '@resilience/core/testing';
import { Redis } from 'ioredis';
import { redisStore } from '../index.js';
import type { FleetRequest } from './fleet.js';

const port = Number(process.env.REDIS_PORT);
// As docs/redis.md tells users to: an `error` listener, or ioredis prints every failed
// reconnection as an "Unhandled error event" (the store reports failures as StoreUnavailableError).
const client = new Redis({ port, host: '127.0.0.1' });
// As docs/redis.md asks of users: a client without an error listener logs every failed reconnect.
client.on('error', () => {});
// Whether ioredis reports a refused reconnect as an 'error' depends on how soon the server is
// back; every client sees its connection close.
let clientCloses = 0;
client.on('close', () => clientCloses++);

let crashes = 0;
process.on('unhandledRejection', () => crashes++);

/** Time of the breaker and of the outage scenario, moved by the test (`advance`). */
const clock = new FakeClock(1_700_000_000_000);

const algorithms: Record<string, (limit: number) => RateLimitAlgorithm> = {
  // None refills or rolls over while a test runs.
  tokenBucket: (limit) => tokenBucket({ capacity: limit, refillPerSecond: 1e-9 }),
  gcra: (limit) => gcra({ limit, periodMs: 1e12, burst: limit }),
  fixedWindow: (limit) => fixedWindow({ limit, windowMs: 1e12 }),
  slidingWindow: (limit) => slidingWindow({ limit, windowMs: 1e12 }),
};

/** Runs `op(i)` for i below `total`, `concurrency` at a time. */
async function many(total: number, concurrency: number, op: (i: number) => Promise<void>) {
  let next = 0;
  const lane = async () => {
    while (next < total) await op(next++);
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
}

const settledSoon = () => new Promise((resolve) => setImmediate(resolve));

let breaker: SharedCircuitBreaker | undefined;
let gate: (() => void) | undefined;
let outage: ReturnType<typeof outageConsumers> | undefined;
let rounds = 0;

function outageConsumers(timeoutMs: number) {
  const store = redisStore({ client, timeoutMs, clock });
  return {
    limiter: rateLimiter({ algorithm: tokenBucket({ capacity: 1e9 }), store, name: 'outage' }),
    records: idempotency({ store, recordAttempts: 1 }),
    breaker: circuitBreaker({ store, name: 'outage', registry: false, clock, strategy: consecutive(3) }),
  };
}

/**
 * Starts `n` calls of each consumer; after `advanceMs` of the store's clock, counts those
 * still waiting, then how each ended. Without `advanceMs`, waits for every answer.
 */
async function outageRound(n: number, advanceMs: number | undefined) {
  const o = (outage ??= outageConsumers(Number(process.env.TIMEOUT_MS)));
  let pending = 0;
  const track = <T>(p: Promise<T>) => {
    pending++;
    return p.finally(() => pending--);
  };
  let runs = 0;
  const limits = Array.from({ length: n }, (_, i) => track(o.limiter.consume(`k${i}`)));
  const keys = Array.from({ length: n }, (_, i) =>
    track(o.records.execute(`${process.pid}-${++rounds}-${i}`, () => ++runs)).then(
      () => 'ran',
      (e: unknown) => (isStoreUnavailableError(e) ? 'store_unavailable' : String(e)),
    ),
  );
  let breakerRuns = 0;
  const calls = Array.from({ length: n }, () =>
    track(o.breaker.execute(() => ++breakerRuns)).then(
      () => 'ran',
      (e: unknown) => String(e),
    ),
  );
  let stillWaiting = 0;
  if (advanceMs !== undefined) {
    await settledSoon();
    await clock.advance(advanceMs);
    await settledSoon();
    stillWaiting = pending;
    if (stillWaiting > 0) return { stillWaiting }; // held past timeoutMs: the test fails here, not by hanging
  }
  const decisions = await Promise.all(limits);
  return {
    stillWaiting,
    allowed: decisions.filter((d) => d.allowed).length,
    degraded: decisions.filter((d) => d.degraded).length,
    storeErrors: o.limiter.stats.storeErrors,
    idempotency: await Promise.all(keys),
    idempotentRuns: runs,
    breaker: await Promise.all(calls),
    breakerRuns,
    // Once Redis answers again, the breaker merges its outcomes and reads the shared state.
    breakerSync:
      advanceMs === undefined
        ? await o.breaker.sync().then(
            () => 'ok',
            (e: unknown) => String(e),
          )
        : 'not tried',
  };
}

async function handle(request: FleetRequest): Promise<unknown> {
  switch (request.kind) {
    case 'consume': {
      const limiter = rateLimiter({
        algorithm: algorithms[request.algorithm]!(request.limit),
        store: redisStore({ client, timeoutMs: 30_000 }),
        name: `fleet-${request.algorithm}`,
        onStoreError: 'closed',
      });
      let admitted = 0;
      await many(request.attempts, request.concurrency, async () => {
        if ((await limiter.consume(request.key)).allowed) admitted++;
      });
      return { admitted };
    }
    case 'idempotency': {
      const store = redisStore({ client, timeoutMs: 30_000 });
      let runs = 0;
      const run = async () => {
        runs++;
        await client.incr(`fleet-runs:${request.key}`);
        return { ranIn: process.pid };
      };
      const results = await Promise.all(
        Array.from({ length: request.callers }, () =>
          idempotency({ store, lockTimeoutMs: 60_000 })
            .execute(request.key, run)
            .catch((e: unknown) => ({ error: String(e) })),
        ),
      );
      return { runs, results };
    }
    case 'breaker': {
      const store = redisStore({ client, timeoutMs: 30_000, time: 'caller', clock: clock as Clock });
      breaker?.dispose();
      breaker = circuitBreaker({
        store,
        name: request.name,
        strategy: consecutive(3),
        halfOpenAfter: 5_000,
        clock,
        registry: false,
        ...(request.perCall ? { sync: 'per-call' as const } : {}),
      });
      return null;
    }
    case 'fail':
      await breaker!.execute(() => Promise.reject(new Error('down'))).catch(() => undefined);
      if (!request.perCall) await breaker!.sync();
      return null;
    case 'sync':
      await breaker!.sync();
      return null;
    case 'calls': {
      // `n` calls at once; those that run wait for `release`, so a probe holds its lease.
      const opened = new Promise<void>((resolve) => {
        gate = resolve;
      });
      let entered = 0;
      let rejected = 0;
      const outcomes = Array.from({ length: request.n }, () =>
        breaker!
          .execute(async () => {
            entered++;
            await opened;
            return 'ok';
          })
          .then(
            () => 'ok',
            (e: unknown) => {
              rejected++;
              return isBrokenCircuitError(e) ? 'broken' : String(e);
            },
          ),
      );
      while (entered + rejected < request.n) await settledSoon();
      void Promise.all(outcomes).then((all) => (last = all));
      return { entered, rejected };
    }
    case 'release': {
      gate?.();
      while (last === undefined) await settledSoon();
      const all = last;
      last = undefined;
      return all;
    }
    case 'advance':
      await clock.advance(request.ms);
      return null;
    case 'outage':
      return outageRound(request.n, request.advanceMs);
    case 'ready':
      if (client.status !== 'ready') await new Promise((resolve) => client.once('ready', resolve));
      // Answered after what the client sent again on 'ready' (same connection, in order): by
      // then the store has heard Redis again, whatever the load on the machine.
      await client.ping();
      return null;
    case 'health':
      return { crashes, clientCloses };
  }
}

let last: string[] | undefined;

process.on('message', (message: FleetRequest & { id: number }) => {
  handle(message).then(
    (result) => process.send!({ id: message.id, result }),
    (error: unknown) => process.send!({ id: message.id, error: String((error as Error)?.stack ?? error) }),
  );
});
process.on('disconnect', () => {
  breaker?.dispose();
  outage?.breaker.dispose();
  client.disconnect();
});
process.send!({ id: 0, result: 'started' });
