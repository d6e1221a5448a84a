/**
 * A rate-limit key's Redis deadline is a function of its logical expiry E (the value's last
 * double) alone: E plus the margin, rounded up to a whole second. A write that leaves that
 * deadline where it is keeps the key's TTL (`SET KEEPTTL`, cheaper than `PX`); whatever the
 * path (one decision, a batch, `applyAll`), a key never vanishes before E + margin.
 */
import {
  fixedWindow,
  gcra,
  type RateLimitAlgorithm,
  type Store,
  slidingWindow,
  storeKey,
  storeNamespace,
  tokenBucket,
} from '@resilience/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { useServer } from './testing/fixture.js';
import { redisStore } from './testing/untimed.js';

const fixture = useServer();
const wall = 1_700_000_000_000;
const MARGIN = { server: 0, caller: 60_000 } as const;

const full = (key: string) => `resilience:${key}`;
/** The logical expiry kept in a rate limit's value (its last double), or undefined when the key is gone. */
const expiryOf = async (key: string) => {
  const v = await fixture.client.getBuffer(full(key));
  return v === null ? undefined : v.readDoubleLE(v.length - 8);
};
/** When Redis will drop the key (ms on its clock). */
const deadlineOf = async (key: string) => Number(await fixture.client.call('PEXPIRETIME', full(key)));
/**
 * expiryOf and deadlineOf read in one MULTI, so both see the key or neither does: a key whose
 * deadline is within the second may expire between two round trips a loaded machine delays.
 */
const expiryAndDeadlineOf = async (key: string): Promise<[number | undefined, number]> => {
  const replies = await fixture.client.multi().getBuffer(full(key)).call('PEXPIRETIME', full(key)).exec();
  const [[, value], [, deadline]] = replies as [[unknown, Buffer | null], [unknown, number]];
  return [value === null ? undefined : value.readDoubleLE(value.length - 8), Number(deadline)];
};
const serverMs = async () => {
  const [seconds, micros] = await fixture.client.time();
  return Number(seconds) * 1_000 + Math.floor(Number(micros) / 1_000);
};
/** The whole second (ms) a deadline rounds up to. */
const second = (ms: number) => Math.ceil(ms / 1_000) * 1_000;

describe('the Redis TTL of a rate-limit key', () => {
  const bucket = tokenBucket({ capacity: 100, refillPerSecond: 100 });

  it('keeps its deadline when a write leaves E + margin in the same second (KEEPTTL)', async () => {
    const store = redisStore({ client: fixture.client, time: 'caller' });
    const key = storeKey(storeNamespace('ttl'), 'one');
    await store.apply(key, bucket.consume, 1, wall);
    const first = await deadlineOf(key);
    // 5 ms later: 98.5 tokens left, E moves from wall + 10 to wall + 15, still below the same second after the margin.
    await store.apply(key, bucket.consume, 1, wall + 5);
    expect(await expiryOf(key)).toBe(wall + 20);
    expect(await deadlineOf(key)).toBe(first);
  });

  it('keeps it too when the old value has expired by its E but Redis still holds it (a limit that refills at once)', async () => {
    const store = redisStore({ client: fixture.client, time: 'caller' });
    const key = storeKey(storeNamespace('ttl'), 'open');
    const open = tokenBucket({ capacity: 1e12, refillPerSecond: 1e12 });
    await store.apply(key, open.consume, 1, wall + 1);
    expect(await expiryOf(key)).toBe(wall + 1);
    const first = await deadlineOf(key);
    await store.apply(key, open.consume, 1, wall + 900);
    expect(await expiryOf(key)).toBe(wall + 900);
    expect(await deadlineOf(key)).toBe(first);
  });

  it('moves the deadline to the whole second after E + margin when that second changes', async () => {
    const store = redisStore({ client: fixture.client, time: 'caller' });
    const key = storeKey(storeNamespace('ttl'), 'moves');
    await store.apply(key, bucket.consume, 1, wall);
    const first = await deadlineOf(key);
    const before = await serverMs();
    // 999 ms later on the caller's clock, E + margin passes into the next second: PX is 1 ms
    // longer than the first write's, so the deadline moves however little Redis's clock moved
    // (a whole 1 000 ms would give the same PX, and the same deadline within one millisecond).
    await store.apply(key, bucket.consume, 1, wall + 999);
    const e = (await expiryOf(key))!;
    expect(e).toBe(wall + 1_009);
    const deadline = await deadlineOf(key);
    expect(deadline).toBeGreaterThan(first);
    // PX = D(E) - now + 1: at least the caller's whole second, counted from the write on Redis's clock.
    expect(deadline - before).toBeGreaterThanOrEqual(second(e + MARGIN.caller) - (wall + 999));
  });

  it('keeps the deadline in a batch of decisions and in applyAll alike', async () => {
    const store = redisStore({ client: fixture.client, time: 'caller' });
    const keys = ['a', 'b', 'c'].map((k) => storeKey(storeNamespace('ttl'), k));
    const window = fixedWindow({ limit: 10, windowMs: 60_000 });
    const rate = gcra({ limit: 100, periodMs: 1_000, burst: 100 });
    const round = (now: number) =>
      Promise.all([
        ...keys.map((k) => store.apply(k, bucket.consume, 1, now)),
        store.applyAll(
          [
            { key: `${keys[0]}|0`, transition: window.consume, input: 1 },
            { key: `${keys[0]}|1`, transition: rate.consume, input: 1 },
          ],
          now,
        ),
      ]);
    const all = [...keys, `${keys[0]}|0`, `${keys[0]}|1`];
    await round(wall);
    const first = await Promise.all(all.map(deadlineOf));
    const expiries = await Promise.all(all.map(expiryOf));
    await round(wall + 3);
    const after = await Promise.all(all.map(expiryOf));
    expect(after.map((e, i) => e! > expiries[i]!)).toEqual([true, true, true, false, true]);
    expect(await Promise.all(all.map(deadlineOf))).toEqual(first);
  });

  // biome-ignore lint/suspicious/noExplicitAny: any algorithm's state.
  const algorithms: RateLimitAlgorithm<any>[] = [
    tokenBucket({ capacity: 20, refillPerSecond: 50 }),
    gcra({ limit: 20, periodMs: 400, burst: 5 }),
    fixedWindow({ limit: 30, windowMs: 700 }),
    slidingWindow({ limit: 30, windowMs: 1_300 }),
  ];
  const step = fc.record({
    key: fc.integer({ min: 0, max: 2 }),
    algorithm: fc.integer({ min: 0, max: 3 }),
    cost: fc.oneof(fc.integer({ min: 0, max: 6 }), fc.double({ min: 0, max: 6, noNaN: true })),
    dt: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 1_500 }), fc.double({ min: 0, max: 40, noNaN: true })),
    together: fc.integer({ min: 1, max: 4 }),
  });

  for (const time of ['server', 'caller'] as const) {
    it(`never ends before the logical expiry plus the margin ('${time}', random costs, times, kinds and batches)`, async () => {
      let run = 0;
      await fc.assert(
        fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 25 }), async (steps) => {
          const store: Store = redisStore({ client: fixture.client, time, timeoutMs: 10_000 });
          const keys = [0, 1, 2].map((k) => storeKey(storeNamespace('prop', time), `${run}-${k}`));
          run++;
          // The caller's clock runs with Redis's, ahead of it by a growing offset (it never runs slower).
          let offset = 0;
          for (const s of steps) {
            offset += s.dt;
            const at = await serverMs();
            const now = at + offset;
            const algorithm = algorithms[s.algorithm]!;
            // `together` decisions in one tick: one goes by the limit's own script, several by its batch script.
            await Promise.all(
              Array.from({ length: s.together }, () => store.apply(keys[s.key]!, algorithm.consume, s.cost, now)),
            );
            const [e, deadline] = await expiryAndDeadlineOf(keys[s.key]!);
            if (e === undefined || e >= 1e15) continue;
            // On Redis's clock, E + margin is `at + (e - now) + margin` at the latest.
            const logical = time === 'server' ? e : at + (e - now) + MARGIN.caller;
            expect(deadline).toBeGreaterThanOrEqual(Math.ceil(logical));
          }
        }),
        { numRuns: 100 },
      );
    }, 60_000);
  }
});
