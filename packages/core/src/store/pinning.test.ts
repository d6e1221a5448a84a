/**
 * Pinned keys (`TransitionResult.pinned`): an in-flight lock is never evicted from a
 * bounded memory store while it lives, and pins can never fill the store.
 */
import { describe, expect, it, vi } from 'vitest';
import { FakeClock } from '../clock/fake-clock.js';
import { isStoreFullError, StoreFullError } from '../errors/errors.js';
import { idempotency } from '../idempotency/idempotency.js';
import { memoryStore } from './memory.js';
import type { Transition } from './store.js';

/** Writes `n` with a TTL, pinned when asked. */
const put: Transition<number, { n: number; ttlMs: number; pinned?: boolean }, number> = {
  name: 'test.put',
  params: null,
  apply: (_state, input) => ({
    state: input.n,
    output: input.n,
    ttlMs: input.ttlMs,
    ...(input.pinned ? { pinned: true } : {}),
  }),
};
const forever = Number.POSITIVE_INFINITY;

describe('pinned keys', () => {
  it('an idempotent call in flight on a shared bounded store runs once while 300 other keys pass', async () => {
    const clock = new FakeClock();
    const store = memoryStore({ maxKeys: 100 });
    const one = idempotency({ store, clock, random: () => 0.1, pollIntervalMs: 5 });
    const two = idempotency({ store, clock, random: () => 0.2, pollIntervalMs: 5 });
    const pending: (() => void)[] = [];
    const fn = vi.fn(() => new Promise<string>((resolve) => pending.push(() => resolve('paid'))));
    const first = one.execute('pay-1', fn);
    await clock.advance(0);
    for (let i = 0; i < 300; i++) await one.execute(`other-${i}`, () => i);
    const second = two.execute('pay-1', fn);
    await clock.advance(5);
    for (const release of pending) release();
    await clock.advance(5);
    expect(await Promise.all([first, second])).toEqual(['paid', 'paid']);
    expect(fn).toHaveBeenCalledTimes(1);
  });

  it('fails an idempotent call closed (fn not run) when the store’s pins are at their bound', async () => {
    const clock = new FakeClock();
    const idem = idempotency({ store: memoryStore({ maxKeys: 2 }), clock, random: () => 0.1 });
    const pending: (() => void)[] = [];
    const first = idem.execute('a', () => new Promise<string>((resolve) => pending.push(() => resolve('a'))));
    await clock.advance(0);
    const fn = vi.fn(() => 'b');
    await expect(idem.execute('b', fn)).rejects.toBeInstanceOf(StoreFullError);
    expect(fn).not.toHaveBeenCalled();
    for (const release of pending) release();
    expect(await first).toBe('a');
    expect(await idem.execute('b', fn)).toBe('b');
  });

  it('keeps a pinned key whatever passes, until its TTL, then evicts it like any other once rewritten unpinned', async () => {
    const store = memoryStore({ maxKeys: 4 });
    await store.apply('lock', put, { n: 1, ttlMs: 1_000, pinned: true }, 0);
    for (let i = 0; i < 50; i++) await store.apply(`k${i}`, put, { n: i, ttlMs: forever }, 10);
    expect(await store.get('lock', 999)).toBe(1);
    expect(store.size).toBe(4);
    expect(await store.get('lock', 1_000)).toBeUndefined();
    await store.apply('lock', put, { n: 2, ttlMs: 5_000, pinned: true }, 0);
    await store.apply('lock', put, { n: 3, ttlMs: 5_000 }, 0);
    for (let i = 0; i < 4; i++) await store.apply(`j${i}`, put, { n: i, ttlMs: forever }, 10);
    expect(await store.get('lock', 10)).toBeUndefined();
  });

  it('pins at most half of maxKeys and refuses one more with StoreFullError, writing nothing', async () => {
    const store = memoryStore({ maxKeys: 6 });
    for (let i = 0; i < 3; i++) await store.apply(`lock${i}`, put, { n: i, ttlMs: 1_000, pinned: true }, 0);
    const refused = await store.apply('lock3', put, { n: 3, ttlMs: 1_000, pinned: true }, 0).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(StoreFullError);
    expect(isStoreFullError(refused)).toBe(true);
    expect((refused as Error).message).toMatch(/3 of its 6 keys .*pinned.*lock3/);
    expect(await store.get('lock3', 0)).toBeUndefined();
    await expect(
      store.applyAll([{ key: 'lock4', transition: put, input: { n: 4, ttlMs: 1_000, pinned: true } }], 0),
    ).rejects.toBeInstanceOf(StoreFullError);
    // Renewing a pin it holds, and unpinned keys, are still fine.
    expect(await store.apply('lock0', put, { n: 9, ttlMs: 1_000, pinned: true }, 0)).toBe(9);
    for (let i = 0; i < 10; i++) await store.apply(`k${i}`, put, { n: i, ttlMs: forever }, 0);
    expect(await Promise.all([0, 1, 2].map((i) => store.get(`lock${i}`, 0)))).toEqual([9, 1, 2]);
    // Expired pins free their places.
    expect(await store.apply('lock3', put, { n: 3, ttlMs: 1_000, pinned: true }, 1_000)).toBe(3);
  });

  it('never lets every key be pinned: memoryStore({ maxKeys: 1 }) refuses every pin', async () => {
    const store = memoryStore({ maxKeys: 1 });
    await expect(store.apply('lock', put, { n: 1, ttlMs: 1_000, pinned: true }, 0)).rejects.toThrow(
      /0 of its 1 keys are pinned/,
    );
    expect(await store.apply('other', put, { n: 2, ttlMs: forever }, 0)).toBe(2);
  });

  it('drops a pinned key on delete and on sweep once expired', async () => {
    const store = memoryStore({ maxKeys: 4 });
    await store.apply('a', put, { n: 1, ttlMs: 100, pinned: true }, 0);
    await store.apply('b', put, { n: 2, ttlMs: 100, pinned: true }, 0);
    expect(await store.delete('a')).toBe(true);
    expect(store.sweep(100)).toBe(1);
    expect(store.size).toBe(0);
    for (let i = 0; i < 2; i++) await store.apply(`p${i}`, put, { n: i, ttlMs: 100, pinned: true }, 100);
  });
});
