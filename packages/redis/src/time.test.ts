/**
 * Whose clock a script reads. Under `time: 'server'` every instance uses Redis's TIME, so
 * instances whose clocks disagree still agree on a limit; under `'caller'` each uses its own.
 */
import { fixedWindow, rateLimiter, storeKey, storeNamespace, tokenBucket } from '@resilience/core';
import { FakeClock } from '@resilience/core/testing';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { redisStore } from './index.js';
import { useServer } from './testing/fixture.js';

const fixture = useServer();

/** Two instances, each with its own client and store, sharing one bucket (2 tokens, one more every 20 s), clocks 30 s apart. */
async function admitted(time: 'server' | 'caller'): Promise<boolean[]> {
  const wall = 1_700_000_000_000;
  const clients = [fixture.client, new Redis({ port: fixture.server.port, host: '127.0.0.1' })];
  const instances = [new FakeClock(wall), new FakeClock(wall + 30_000)].map((clock, i) =>
    rateLimiter({
      algorithm: tokenBucket({ capacity: 2, refillPerSecond: 0.05 }),
      store: redisStore({ client: clients[i]!, time }),
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

  it("'caller': the instance 30 s ahead finds tokens the other never added (why 'server' is the default)", async () => {
    expect(await admitted('caller')).toEqual([true, true, true, false, false]);
  });

  it("'caller': instances further apart than a limit's period, taking turns, admit every request (each finds the other's key stepped back)", async () => {
    const wall = 1_700_000_000_000;
    const [a, b] = [new FakeClock(wall), new FakeClock(wall - 2_000)].map((clock) =>
      rateLimiter({
        algorithm: fixedWindow({ limit: 3, windowMs: 1_000 }),
        store: redisStore({ client: fixture.client, time: 'caller' }),
        name: 'turns',
        clock,
      }),
    );
    let admitted = 0;
    for (let i = 0; i < 20; i++) if ((await (i % 2 ? b! : a!).consume('user-42')).allowed) admitted++;
    expect(admitted).toBe(20);
  });

  it("'server': expiry is judged on the server's clock, whatever the caller's now", async () => {
    const store = redisStore({ client: fixture.client });
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
    const store = redisStore({ client: fixture.client, time: 'caller' });
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
