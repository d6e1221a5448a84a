/**
 * The memory store's eviction guarantee: a key used again before `maxKeys / 2` other keys
 * were touched is never evicted, whatever the pattern of the other keys (scans of keys
 * touched once, twice, interleaved, pinned locks up to the store's bound) — before
 * `maxKeys` while nothing is pinned — and a pinned key is never evicted.
 */
import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { FakeClock } from '../clock/fake-clock.js';
import { isStoreFullError } from '../errors/errors.js';
import { idempotency } from '../idempotency/idempotency.js';
import { rateLimiter } from '../ratelimit/limiter.js';
import { tokenBucket } from '../ratelimit/token-bucket.js';
import { memoryStore } from './memory.js';
import type { Transition } from './store.js';

/** Counts uses; pins the key when asked. */
const count: Transition<number, boolean, number> = {
  name: 'test.count',
  params: null,
  apply: (state, pinned) => ({
    state: (state ?? 0) + 1,
    output: (state ?? 0) + 1,
    ttlMs: Number.POSITIVE_INFINITY,
    ...(pinned ? { pinned: true } : {}),
  }),
};

type Burst =
  | { kind: 'scan' | 'sweep'; n: number; times: number }
  | { kind: 'reuse'; pick: number }
  | { kind: 'hot' | 'pin'; n: number }
  | { kind: 'unpin'; pick: number };

/** Touches of keys: each burst is a pattern an attacker (or a busy service) may produce. */
const burst = (maxKeys: number, pins: boolean): fc.Arbitrary<Burst> =>
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
    // New locks (pinned keys), up to and past the store's bound; a lock released (written unpinned).
    ...(pins
      ? [
          fc.record({ kind: fc.constant('pin' as const), n: fc.integer({ min: 1, max: maxKeys }) }),
          fc.record({ kind: fc.constant('unpin' as const), pick: fc.nat() }),
        ]
      : []),
  );

interface Touch {
  readonly key: string;
  readonly pin: boolean;
}

function touches(bursts: readonly Burst[]): Touch[] {
  const out: Touch[] = [];
  const use = (key: string, pin = false) => out.push({ key, pin });
  let fresh = 0;
  let locks = 0;
  for (const b of bursts) {
    if (b.kind === 'scan') {
      for (let i = 0; i < b.n; i++, fresh++) for (let t = 0; t < b.times; t++) use(`s${fresh}`);
    } else if (b.kind === 'sweep') {
      const start = fresh;
      fresh += b.n;
      for (let t = 0; t < b.times; t++) for (let i = start; i < fresh; i++) use(`s${i}`);
    } else if (b.kind === 'reuse') {
      if (out.length > 0) use(out[b.pick % out.length]!.key);
    } else if (b.kind === 'hot') {
      for (let i = 0; i < b.n; i++) use(`hot${i}`);
    } else if (b.kind === 'pin') {
      for (let i = 0; i < b.n; i++) use(`lock${locks++}`, true);
    } else if (b.kind === 'unpin' && locks > 0) use(`lock${b.pick % locks}`);
  }
  return out;
}

/**
 * Replays `touches` on a store of `maxKeys` and checks at each reuse that a pinned key, and
 * a key whose reuse distance (distinct other keys touched since its last use) is below
 * `bound`, kept its state. A pin the store refuses (StoreFullError) touches nothing.
 */
async function replay(touched: readonly Touch[], maxKeys: number, bound: number): Promise<void> {
  const store = memoryStore({ maxKeys });
  const seen: string[] = [];
  const expected = new Map<string, number>();
  const lastUse = new Map<string, number>();
  const pinned = new Set<string>();
  for (const { key, pin } of touched) {
    const n = await store.apply(key, count, pin, 0).catch((error: unknown) => {
      if (!(pin && isStoreFullError(error))) throw error;
      return undefined;
    });
    if (n === undefined) continue;
    const previous = lastUse.get(key);
    if (previous !== undefined) {
      const distance = new Set(seen.slice(previous + 1)).size;
      if ((pinned.has(key) || distance < bound) && n !== expected.get(key)! + 1) {
        expect.fail(
          `${key} was evicted though reused after ${distance} other keys (${pinned.has(key) ? 'pinned' : 'unpinned'})`,
        );
      }
    }
    if (pin) pinned.add(key);
    else pinned.delete(key);
    expected.set(key, n);
    lastUse.set(key, seen.length);
    seen.push(key);
    if (store.size > maxKeys) expect.fail(`${store.size} keys held, more than maxKeys ${maxKeys}`);
  }
}

const patterns = (pins: boolean) =>
  fc
    .integer({ min: 2, max: 48 })
    .chain((maxKeys) =>
      fc.tuple(fc.constant(maxKeys), fc.array(burst(maxKeys, pins), { minLength: 1, maxLength: 30 })),
    );

describe('memoryStore eviction', () => {
  it('never evicts a key reused within maxKeys / 2 other keys, whatever scans and pins pass (touch-twice included)', async () => {
    await fc.assert(
      fc.asyncProperty(patterns(true), ([maxKeys, bursts]) => replay(touches(bursts), maxKeys, maxKeys / 2)),
      { numRuns: 300 },
    );
  });

  it('keeps a key reused within maxKeys - 1 other keys while no key is pinned (least recently used first)', async () => {
    await fc.assert(
      fc.asyncProperty(patterns(false), ([maxKeys, bursts]) => replay(touches(bursts), maxKeys, maxKeys)),
      { numRuns: 200 },
    );
  });

  it('evicts in the exact order of use across filling up, a sweep to half full, and filling up again', async () => {
    // Until first full the store only stamps each use; it then sorts the stamps into its
    // recency list, and a sweep that leaves it half full goes back to stamps.
    const store = memoryStore({ maxKeys: 8 });
    const put = (key: string, ttlMs: number, now: number) => store.set(key, 1, ttlMs, now);
    const held = async (now: number) => (await store.keys('', now)).sort();
    for (let i = 0; i < 8; i++) await put(`k${i}`, i < 5 ? 10 : Number.POSITIVE_INFINITY, 0);
    await store.get('k7', 0);
    await store.get('k5', 0); // oldest first: k0 k1 k2 k3 k4 k6 k7 k5
    await put('x', Number.POSITIVE_INFINITY, 0);
    expect(await held(0)).toEqual(['k1', 'k2', 'k3', 'k4', 'k5', 'k6', 'k7', 'x']);
    expect(store.sweep(20)).toBe(4); // k1-k4; left, oldest first: k6 k7 k5 x
    for (const key of ['y1', 'y2', 'y3', 'y4']) await put(key, Number.POSITIVE_INFINITY, 20);
    await store.get('k6', 20); // k7 k5 x y1 y2 y3 y4 k6
    await put('z1', Number.POSITIVE_INFINITY, 20);
    await put('z2', Number.POSITIVE_INFINITY, 20);
    await put('z3', Number.POSITIVE_INFINITY, 20);
    expect(await held(20)).toEqual(['k6', 'y1', 'y2', 'y3', 'y4', 'z1', 'z2', 'z3']);
    await put('z4', Number.POSITIVE_INFINITY, 20);
    expect(await held(20)).toEqual(['k6', 'y2', 'y3', 'y4', 'z1', 'z2', 'z3', 'z4']);
  });

  it('keeps 10 hot keys while a scan touches each of 20 000 other keys twice', async () => {
    const keys: string[] = [];
    for (let i = 0; i < 20_000; i++) {
      keys.push(`scan-${i}`, `scan-${i}`);
      if (i % 40 === 0) for (let h = 0; h < 10; h++) keys.push(`hot-${h}`);
    }
    await replay(
      keys.map((key) => ({ key, pin: false })),
      200,
      100,
    );
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
