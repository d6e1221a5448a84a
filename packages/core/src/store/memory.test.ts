import { describe, expect, it } from 'vitest';
import { MemoryStore, memoryStore } from './memory.js';
import { storeKey, storeNamespace } from './namespace.js';
import type { PackedTransition, Transition } from './store.js';

interface Counter {
  n: number;
}
const increment: Transition<Counter, { by: number; ttlMs: number }, number> = {
  name: 'test.increment',
  params: null,
  apply: (state, input) => {
    const n = (state?.n ?? 0) + input.by;
    return { state: { n }, output: n, ttlMs: input.ttlMs };
  },
};

const packedCounter: PackedTransition<Counter, number, number> = {
  codec: {
    width: 1,
    pack: (s, into, at) => {
      into[at] = s.n;
    },
    unpack: (from, at) => ({ n: from[at]! }),
  },
  step(state, offset, fresh, limit, _now, next) {
    const n = (fresh ? 0 : state[offset]!) + 1;
    const ok = n <= limit;
    next[0] = ok ? n : n - 1;
    next[1] = 1000;
    next[2] = ok ? 1 : 0;
    return ok ? n : -1;
  },
};
const capped: Transition<Counter, number, number> = {
  name: 'test.capped',
  params: null,
  packed: packedCounter,
  apply(state, limit) {
    const n = (state?.n ?? 0) + 1;
    const ok = n <= limit;
    return { state: { n: ok ? n : n - 1 }, output: ok ? n : -1, ttlMs: 1000, accepted: ok };
  },
};

describe('memoryStore', () => {
  it('applies a transition atomically and returns its output', async () => {
    const store = memoryStore();
    expect(await store.apply('a', increment, { by: 2, ttlMs: 100 }, 0)).toBe(2);
    expect(await store.apply('a', increment, { by: 3, ttlMs: 100 }, 10)).toBe(5);
    expect(await store.get('a', 20)).toEqual({ n: 5 });
  });

  it('reads a key past its TTL as absent', async () => {
    const store = memoryStore();
    await store.apply('a', increment, { by: 1, ttlMs: 100 }, 0);
    expect(await store.get('a', 99)).toEqual({ n: 1 });
    expect(await store.get('a', 100)).toBeUndefined();
    expect(await store.apply('a', increment, { by: 1, ttlMs: 100 }, 150)).toBe(1);
  });

  it('evicts the least recently used key past maxKeys', async () => {
    const store = memoryStore({ maxKeys: 2 });
    await store.apply('a', increment, { by: 1, ttlMs: Infinity }, 0);
    await store.apply('b', increment, { by: 1, ttlMs: Infinity }, 0);
    await store.apply('a', increment, { by: 1, ttlMs: Infinity }, 0);
    await store.apply('c', increment, { by: 1, ttlMs: Infinity }, 0);
    expect(store.size).toBe(2);
    expect(await store.get('b', 0)).toBeUndefined();
    expect(await store.get('a', 0)).toEqual({ n: 2 });
  });

  it('keeps packed states numeric and converts them at the boundary', async () => {
    const store = new MemoryStore();
    expect(await store.apply('k', capped, 2, 0)).toBe(1);
    expect(await store.apply('k', capped, 2, 0)).toBe(2);
    expect(await store.apply('k', capped, 2, 0)).toBe(-1);
    expect(await store.get('k', 0)).toEqual({ n: 2 });
    await store.set('k', { n: 0 }, 1000, 0);
    expect(await store.apply('k', capped, 2, 0)).toBe(1);
  });

  it('writes no key of applyAll when one step is refused', async () => {
    const store = memoryStore();
    await store.set('full', { n: 1 }, 1000, 0);
    const out = await store.applyAll(
      [
        { key: 'free', transition: capped, input: 5 },
        { key: 'full', transition: capped, input: 1 },
      ],
      0,
    );
    expect(out).toEqual([1, -1]);
    expect(await store.get('free', 0)).toBeUndefined();
    expect(await store.applyAll([{ key: 'free', transition: capped, input: 5 }], 0)).toEqual([1]);
    expect(await store.get('free', 0)).toEqual({ n: 1 });
  });

  it('rejects applyAll with a repeated key', async () => {
    const store = memoryStore();
    const op = { key: 'x', transition: capped, input: 5 };
    await expect(store.applyAll([op, op], 0)).rejects.toThrow(TypeError);
  });

  it('lists live keys by prefix up to a limit', async () => {
    const store = memoryStore();
    await store.set('saga:1', { s: 'running' }, Infinity, 0);
    await store.set('saga:2', { s: 'running' }, 10, 0);
    await store.set('other', 1, Infinity, 0);
    expect((await store.keys('saga:', 5)).sort()).toEqual(['saga:1', 'saga:2']);
    expect(await store.keys('saga:', 20)).toEqual(['saga:1']);
    expect(await store.keys('saga:', 5, { limit: 1 })).toHaveLength(1);
    expect(await store.delete('saga:1')).toBe(true);
    expect(await store.delete('saga:1')).toBe(false);
  });

  it('shows keys of a key space under their full names', async () => {
    const store = new MemoryStore();
    await store.set('{rl:x|old}', { n: 7 }, 1000, 0);
    await store.set('{rl:x|old}|0.gcra', { n: 5 }, 1000, 0);
    const space = store.space(storeNamespace('rl', 'x'));
    expect(store.space('{rl:x|')).toBe(space);
    expect(store.applySync('old', capped, 9, 0, space)).toBe(8);
    expect(store.applySync('new', capped, 9, 0, space)).toBe(1);
    expect(await store.get('{rl:x|new}', 0)).toEqual({ n: 1 });
    expect((await store.keys('{rl:x|', 0)).sort()).toEqual(['{rl:x|new}', '{rl:x|old}', '{rl:x|old}|0.gcra']);
    expect(await store.apply('{rl:x|new}', capped, 9, 0)).toBe(2);
    expect(await store.apply('{rl:x|old}|0.gcra', capped, 9, 0)).toBe(6);
    expect(store.deleteSync('new', space)).toBe(true);
    expect(await store.get('{rl:x|new}', 0)).toBeUndefined();
    expect(store.size).toBe(2);
  });

  it('keeps each key in one space whatever order the spaces are made in', async () => {
    const fill = async (order: string[]) => {
      const store = new MemoryStore();
      await store.set(storeKey(storeNamespace('rl', 'api:v2'), 'k'), { n: 1 }, 1000, 0);
      await store.set(storeKey(storeNamespace('rl', 'api'), 'v2:k'), { n: 2 }, 1000, 0);
      const spaces = new Map(order.map((name) => [name, store.space(storeNamespace('rl', name))]));
      store.applySync('v2:j', capped, 9, 0, spaces.get('api'));
      store.applySync('j', capped, 9, 0, spaces.get('api:v2'));
      return {
        api: [
          store.applySync('v2:k', capped, 9, 0, spaces.get('api')),
          store.applySync('v2:j', capped, 9, 0, spaces.get('api')),
        ],
        v2: [
          store.applySync('k', capped, 9, 0, spaces.get('api:v2')),
          store.applySync('j', capped, 9, 0, spaces.get('api:v2')),
        ],
        keys: (await store.keys('{rl:', 0)).sort(),
      };
    };
    const first = await fill(['api', 'api:v2']);
    expect(first).toEqual({
      api: [3, 2],
      v2: [2, 2],
      keys: ['{rl:api%3Av2|j}', '{rl:api%3Av2|k}', '{rl:api|v2:j}', '{rl:api|v2:k}'],
    });
    expect(await fill(['api:v2', 'api'])).toEqual(first);
  });

  it('rejects a key space that is not a namespace', () => {
    const store = new MemoryStore();
    expect(store.space('')).toBe(0);
    expect(() => store.space('{rl:')).toThrow(/storeNamespace/);
    expect(() => store.space('{a|b|')).toThrow(TypeError);
    expect(() => store.space('rl:a|')).toThrow(TypeError);
  });

  it('stays within maxKeys while a scan of one-off keys passes, sparing the keys in use', async () => {
    const store = memoryStore({ maxKeys: 100 });
    const hot = Array.from({ length: 10 }, (_, i) => `hot-${i}`);
    for (const key of hot) await store.apply(key, increment, { by: 1, ttlMs: Infinity }, 0);
    for (let i = 0; i < 10_000; i++) {
      await store.apply(`scan-${i}`, increment, { by: 1, ttlMs: Infinity }, 0);
      if (i % 50 === 0) for (const key of hot) await store.apply(key, increment, { by: 0, ttlMs: Infinity }, 0);
      expect(store.size).toBeLessThanOrEqual(100);
    }
    for (const key of hot) expect(await store.get(key, 0)).toEqual({ n: 1 });
  });

  it('reclaims expired keys as new ones arrive and on sweep', async () => {
    const store = memoryStore();
    for (let i = 0; i < 50; i++) await store.apply(`k${i}`, increment, { by: 1, ttlMs: 10 }, 0);
    for (let i = 0; i < 10; i++) await store.apply(`n${i}`, increment, { by: 1, ttlMs: 10 }, 20);
    expect(store.size).toBe(50);
    expect(store.sweep(20)).toBe(40);
    expect(store.size).toBe(10);
    store.clear();
    expect(store.size).toBe(0);
    expect(await store.get('n1', 20)).toBeUndefined();
  });

  it('rejects a non-positive maxKeys naming it', () => {
    expect(() => memoryStore({ maxKeys: 0 })).toThrow(/maxKeys/);
  });
});
