/**
 * The memory store's eviction guarantee: a key used again before `maxKeys / 2` other keys
 * were touched is never evicted, whatever the pattern of the other keys (scans of keys
 * touched once, twice, interleaved).
 */
import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { FakeClock } from '../clock/fake-clock.js';
import { idempotency } from '../idempotency/idempotency.js';
import { rateLimiter } from '../ratelimit/limiter.js';
import { tokenBucket } from '../ratelimit/token-bucket.js';
import { memoryStore } from './memory.js';
import type { Transition } from './store.js';

const count: Transition<number, null, number> = {
  name: 'test.count',
  params: null,
  apply: (state) => ({ state: (state ?? 0) + 1, output: (state ?? 0) + 1, ttlMs: Number.POSITIVE_INFINITY }),
};

type Burst =
  | { kind: 'scan' | 'sweep'; n: number; times: number }
  | { kind: 'reuse'; pick: number }
  | { kind: 'hot'; n: number };

/** Touches of keys: each burst is a pattern an attacker (or a busy service) may produce. */
const burst = (maxKeys: number): fc.Arbitrary<Burst> =>
  fc.oneof(
    // A scan of new keys, each touched `times` times in a row (two requests per key).
    fc.record({
      kind: fc.constant('scan' as const),
      n: fc.integer({ min: 1, max: 2 * maxKeys }),
      times: fc.integer({ min: 1, max: 3 }),
    }),
    // A scan of new keys, the whole scan repeated `times` times.
    fc.record({
      kind: fc.constant('sweep' as const),
      n: fc.integer({ min: 1, max: maxKeys }),
      times: fc.integer({ min: 1, max: 3 }),
    }),
    // One key used before, again.
    fc.record({ kind: fc.constant('reuse' as const), pick: fc.nat() }),
    // A set of hot keys, each used once.
    fc.record({ kind: fc.constant('hot' as const), n: fc.integer({ min: 1, max: Math.max(1, maxKeys >> 2) }) }),
  );

function touches(bursts: readonly Burst[]): string[] {
  const out: string[] = [];
  let fresh = 0;
  for (const b of bursts) {
    if (b.kind === 'scan') {
      for (let i = 0; i < b.n; i++, fresh++) for (let t = 0; t < b.times; t++) out.push(`s${fresh}`);
    } else if (b.kind === 'sweep') {
      const start = fresh;
      fresh += b.n;
      for (let t = 0; t < b.times; t++) for (let i = start; i < fresh; i++) out.push(`s${i}`);
    } else if (b.kind === 'reuse') {
      if (out.length > 0) out.push(out[b.pick % out.length]!);
    } else {
      for (let i = 0; i < b.n; i++) out.push(`hot${i}`);
    }
  }
  return out;
}

/**
 * Replays `keys` on a store of `maxKeys` and checks at each reuse whose reuse distance
 * (distinct other keys touched since the key's last use) is below `bound` that the key
 * kept its state. Returns the evictions seen at reuse distances of `bound` or more.
 */
async function replay(keys: readonly string[], maxKeys: number, bound: number): Promise<number> {
  const store = memoryStore({ maxKeys });
  const expected = new Map<string, number>();
  const lastUse = new Map<string, number>();
  let evictedFar = 0;
  for (let t = 0; t < keys.length; t++) {
    const key = keys[t]!;
    const n = await store.apply(key, count, null, 0);
    const previous = lastUse.get(key);
    if (previous !== undefined) {
      const distance = new Set(keys.slice(previous + 1, t)).size;
      if (distance < bound) expect(n, `${key} reused after ${distance} other keys`).toBe(expected.get(key)! + 1);
      else if (n === 1) evictedFar++;
    }
    expected.set(key, n);
    lastUse.set(key, t);
    expect(store.size).toBeLessThanOrEqual(maxKeys);
  }
  return evictedFar;
}

describe('memoryStore eviction', () => {
  it('never evicts a key reused within maxKeys / 2 other keys, whatever scans pass (touch-twice included)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc
          .integer({ min: 2, max: 48 })
          .chain((maxKeys) =>
            fc.tuple(fc.constant(maxKeys), fc.array(burst(maxKeys), { minLength: 1, maxLength: 30 })),
          ),
        async ([maxKeys, bursts]) => {
          await replay(touches(bursts), maxKeys, maxKeys / 2);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('keeps a key reused within maxKeys - 1 other keys while no key is pinned (least recently used first)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc
          .integer({ min: 2, max: 48 })
          .chain((maxKeys) =>
            fc.tuple(fc.constant(maxKeys), fc.array(burst(maxKeys), { minLength: 1, maxLength: 30 })),
          ),
        async ([maxKeys, bursts]) => {
          await replay(touches(bursts), maxKeys, maxKeys);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('keeps 10 hot keys while a scan touches each of 20 000 other keys twice', async () => {
    const keys: string[] = [];
    for (let i = 0; i < 20_000; i++) {
      keys.push(`scan-${i}`, `scan-${i}`);
      if (i % 40 === 0) for (let h = 0; h < 10; h++) keys.push(`hot-${h}`);
    }
    await replay(keys, 200, 100);
  });

  it('admits nothing more on an exhausted rate-limit key while a scan touches every other key twice', () => {
    const limiter = rateLimiter({
      algorithm: tokenBucket({ capacity: 1, refillPerSecond: 1 / 3600 }),
      store: memoryStore({ maxKeys: 1_000 }),
      clock: new FakeClock(),
    });
    expect(limiter.consumeSync('hot').allowed).toBe(true);
    let admitted = 0;
    for (let i = 0; i < 50_000; i++) {
      limiter.consumeSync(`scan-${i}`);
      limiter.consumeSync(`scan-${i}`);
      if (i % 100 === 0 && limiter.consumeSync('hot').allowed) admitted++;
    }
    expect(admitted).toBe(0);
  });

  it('runs an idempotent call once when its key is replayed every 100 keys with maxRecords 1 000', async () => {
    const idem = idempotency({ maxRecords: 1_000, clock: new FakeClock(), random: () => 0.5 });
    const hot = vi.fn(() => 'created');
    for (let i = 0; i < 5_000; i++) {
      await idem.execute(`k-${i}`, () => i);
      if (i % 100 === 0) expect(await idem.execute('hot', hot)).toBe('created');
    }
    expect(hot).toHaveBeenCalledTimes(1);
  });
});
