/**
 * Whose clock a script reads. Under `time: 'server'` every instance uses Redis's TIME, so
 * instances whose clocks disagree still agree on a limit; under `'caller'` each uses its own.
 */
import {
  fixedWindow,
  gcra,
  idempotency,
  rateLimiter,
  slidingWindow,
  storeKey,
  storeNamespace,
  tokenBucket,
} from '@resilience/core';
import { FakeClock } from '@resilience/core/testing';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { useServer } from './testing/fixture.js';
import { redisStore } from './testing/untimed.js';

const fixture = useServer();
// No test here is about timeouts: a machine busy with the other test files must not fail a call (200 ms by default).
const timeoutMs = 10_000;

/** Two instances, each with its own client and store, sharing one bucket (2 tokens, one more every 20 s), clocks 30 s apart. */
async function admitted(time: 'server' | 'caller'): Promise<boolean[]> {
  const wall = 1_700_000_000_000;
  const clients = [fixture.client, new Redis({ port: fixture.server.port, host: '127.0.0.1' })];
  const instances = [new FakeClock(wall), new FakeClock(wall + 30_000)].map((clock, i) =>
    rateLimiter({
      algorithm: tokenBucket({ capacity: 2, refillPerSecond: 0.05 }),
      store: redisStore({ client: clients[i]!, time, timeoutMs }),
      name: 'skew',
      clock,
    }),
  );
  const decisions = [];
  for (const i of [0, 0, 1, 1, 0]) decisions.push((await instances[i]!.consume('user-42')).allowed);
  clients[1]!.disconnect();
  return decisions;
}

describe('time', () => {
  it("'server': instances whose clocks differ by 30 s agree on one bucket", async () => {
    expect(await admitted('server')).toEqual([true, true, false, false, false]);
  });

  it("'server': three instances 2 s apart (-2 s, 0, +2 s), 30 concurrent calls each, admit exactly the limit of every algorithm; 'caller' twice a fixed window's across its start", async () => {
    const algorithms = {
      tokenBucket: tokenBucket({ capacity: 10, refillPerSecond: 0.001 }),
      gcra: gcra({ limit: 10, periodMs: 10_000_000 }),
      fixedWindow: fixedWindow({ limit: 10, windowMs: 10_000_000 }),
      slidingWindow: slidingWindow({ limit: 10, windowMs: 10_000_000 }),
    };
    const clients = [1, 2, 3].map(() => new Redis({ port: fixture.server.port, host: '127.0.0.1' }));
    const wall = 1_700_000_000_000;
    const admitted = async (time: 'server' | 'caller', name: keyof typeof algorithms) => {
      const instances = [-2_000, 0, 2_000].map((skew, i) =>
        rateLimiter({
          algorithm: algorithms[name],
          store: redisStore({ client: clients[i]!, time, timeoutMs }),
          name: `skew-${time}-${name}`,
          clock: new FakeClock(wall + skew),
          onStoreError: 'closed',
        }),
      );
      // The instance 2 s behind goes first, as it would in one burst whose answers come in any order.
      const first = await Promise.all(Array.from({ length: 15 }, () => instances[0]!.consume('user-42')));
      const rest = await Promise.all(instances.flatMap((l) => Array.from({ length: 25 }, () => l.consume('user-42'))));
      return [...first, ...rest].filter((d) => d.allowed).length;
    };
    const counts: Record<string, [number, number]> = {};
    for (const name of Object.keys(algorithms) as (keyof typeof algorithms)[]) {
      counts[name] = [await admitted('server', name), await admitted('caller', name)];
    }
    for (const c of clients) c.disconnect();
    // 'caller': `wall` is the start of a fixed window, so the instance 2 s behind counts in the window before
    // and its 10 come on top. (Its buckets refill too slowly here for 4 s of skew to add a whole token: a
    // bucket refilling r a second admits up to r x skew more, e.g. 4 of 10 at 1 a second, 4 s apart.)
    expect(counts).toEqual({ tokenBucket: [10, 10], gcra: [10, 10], fixedWindow: [10, 20], slidingWindow: [10, 10] });
  });

  it("'server': 50 concurrent duplicates of one idempotency key, each through its own instance, clocks spanning 4 s, run it once", async () => {
    const clients = Array.from({ length: 10 }, () => new Redis({ port: fixture.server.port, host: '127.0.0.1' }));
    const wall = 1_700_000_000_000;
    // Each its own instance (as separate processes: no local sharing), clocks from -2 s to +2 s.
    const instances = Array.from({ length: 50 }, (_, i) =>
      idempotency({
        store: redisStore({ client: clients[i % 10]!, timeoutMs }),
        clock: new FakeClock(wall - 2_000 + i * 80),
      }),
    );
    let runs = 0;
    let finish!: (value: string) => void;
    let started!: () => void;
    const running = new Promise<void>((resolve) => {
      started = resolve;
    });
    const call = () =>
      new Promise<string>((resolve) => {
        runs++;
        finish = resolve;
        started();
      });
    let settledCount = 0;
    let allButOne!: () => void;
    const fortyNine = new Promise<void>((resolve) => {
      allButOne = resolve;
    });
    const outcomes = instances.map((instance) => {
      const p = instance.execute('order-7', call, { onInFlight: 'reject' });
      const count = () => {
        if (++settledCount === 49) allButOne();
      };
      p.then(count, count);
      return p;
    });
    // The 49 duplicates are answered while the one run is still in flight (the claimer may call
    // its function a turn after the others' refusals arrive: await both).
    await Promise.all([fortyNine, running]);
    expect(runs).toBe(1);
    finish('done');
    const settled = await Promise.allSettled(outcomes);
    expect(settled.filter((r) => r.status === 'fulfilled').map((r) => r.value)).toEqual(['done']);
    expect(new Set(settled.map((r) => r.status === 'rejected' && (r.reason as { code?: string }).code))).toEqual(
      new Set([false, 'in_flight']),
    );
    // Later duplicates, on any instance, replay it.
    for (const instance of instances.slice(0, 10)) expect(await instance.execute('order-7', call)).toBe('done');
    expect(runs).toBe(1);
    for (const c of clients) c.disconnect();
  });

  it("'caller': the instance 30 s ahead finds tokens the other never added (why 'server' is the default)", async () => {
    expect(await admitted('caller')).toEqual([true, true, true, false, false]);
  });

  it("'caller': instances further apart than a limit's period, taking turns, admit every request (each finds the other's key stepped back)", async () => {
    const wall = 1_700_000_000_000;
    const [a, b] = [new FakeClock(wall), new FakeClock(wall - 2_000)].map((clock) =>
      rateLimiter({
        algorithm: fixedWindow({ limit: 3, windowMs: 1_000 }),
        store: redisStore({ client: fixture.client, time: 'caller', timeoutMs }),
        name: 'turns',
        clock,
      }),
    );
    let admitted = 0;
    for (let i = 0; i < 20; i++) if ((await (i % 2 ? b! : a!).consume('user-42')).allowed) admitted++;
    expect(admitted).toBe(20);
  });

  it("'server': expiry is judged on the server's clock, whatever the caller's now", async () => {
    const store = redisStore({ client: fixture.client, timeoutMs });
    const key = storeKey(storeNamespace('test', 'time'), 'k');
    const serverMs = async () => {
      const [seconds, micros] = await fixture.client.time();
      return Number(seconds) * 1_000 + Math.floor(Number(micros) / 1_000);
    };
    const before = await serverMs();
    await store.set(key, { v: 1 }, 60_000, 0);
    const after = await serverMs();
    expect(await store.get(key, Number.MAX_SAFE_INTEGER)).toEqual({ v: 1 });
    const expiresAt = Number((await fixture.client.get(`resilience:${key}`))?.split(';')[0]);
    expect(expiresAt - 60_000).toBeGreaterThanOrEqual(before);
    expect(expiresAt - 60_000).toBeLessThanOrEqual(after);
    expect(await fixture.client.pttl(`resilience:${key}`)).toBeLessThanOrEqual(60_000);
  });

  it("'caller': expiry is judged on the caller's now; PX collects the key a minute after", async () => {
    const store = redisStore({ client: fixture.client, time: 'caller', timeoutMs });
    const key = storeKey(storeNamespace('test', 'time'), 'k');
    await store.set(key, { v: 1 }, 1_000, 5_000);
    expect(await store.get(key, 5_999)).toEqual({ v: 1 });
    expect(await store.get(key, 6_000)).toBeUndefined();
    expect(await fixture.client.get(`resilience:${key}`)).toBe('6000;{"v":1}');
    // PX: the TTL plus a minute, so the key outlives what the caller's clock says (1 s) even if it runs slow.
    const px = await fixture.client.pttl(`resilience:${key}`);
    expect(px).toBeGreaterThan(1_000);
    expect(px).toBeLessThanOrEqual(61_000);
  });
});
