import { describe, expect, it } from 'vitest';
import { memoryStore } from '../store/memory.js';
import type { Transition } from '../store/store.js';
import { jsonRoundTripStore } from './json-round-trip-store.js';

const returning = (state: unknown, output: unknown): Transition<unknown, unknown, unknown> => ({
  name: 'test.returning',
  params: null,
  apply: () => ({ state, output, ttlMs: 1_000 }),
});

describe('jsonRoundTripStore', () => {
  it('resolves every call on a later macrotask, never in the same tick', async () => {
    const store = jsonRoundTripStore(memoryStore());
    const order: string[] = [];
    const calls = [
      store.get('k', 0).then(() => order.push('get')),
      store.apply('k', returning({ n: 1 }, null), null, 0).then(() => order.push('apply')),
      store.keys('', 0).then(() => order.push('keys')),
    ];
    setImmediate(() => order.push('macrotask'));
    await Promise.all(calls);
    expect(order[0]).toBe('macrotask');
    expect(order.slice(1).sort()).toEqual(['apply', 'get', 'keys']);
  });

  it('keeps JSON text inside, so every read and every transition gets a fresh copy', async () => {
    const inner = memoryStore();
    const store = jsonRoundTripStore(inner);
    await store.set('k', { list: [1, 2] }, 1_000, 0);
    expect(await inner.get('k', 0)).toBe('{"list":[1,2]}');
    const read = await store.get<{ list: number[] }>('k', 0);
    read?.list.push(3);
    const seen: unknown[] = [];
    const peek: Transition<{ list: number[] }, { by: number }, number> = {
      name: 'test.peek',
      params: null,
      apply(state, input) {
        seen.push(JSON.stringify(state), input);
        state?.list.push(input.by); // a mutation a Redis store would never keep
        return { state, output: 0, ttlMs: 0, write: false };
      },
    };
    await store.apply('k', peek, { by: 4 }, 0);
    expect(seen).toEqual(['{"list":[1,2]}', { by: 4 }]);
    expect(await store.get('k', 0)).toEqual({ list: [1, 2] });
  });

  it.each([
    ['Infinity', { until: Number.POSITIVE_INFINITY }, /the state of test\.returning\.until is Infinity/],
    ['NaN', { n: [1, Number.NaN] }, /\.n\[1\] is NaN/],
    ['a Date', { at: new Date(0) }, /\.at is a Date, not a plain object/],
    ['a Map', { seen: new Map() }, /\.seen is a Map/],
    ['an Error', { failure: new Error('boom') }, /\.failure is an Error, not a plain object/],
    ['an instance of a class without a name', { o: new (class {})() }, /\.o is a class instance, not a plain object/],
    ['undefined in an array', [1, undefined], /\[1\] is undefined/],
    ['a bigint', { n: 1n }, /\.n is a bigint/],
  ])('rejects a state holding %s, naming where, and writes nothing', async (_what, state, message) => {
    const store = jsonRoundTripStore(memoryStore());
    await expect(store.apply('k', returning(state, null), null, 0)).rejects.toThrow(message);
    expect(await store.get('k', 0)).toBeUndefined();
  });

  it('rejects outputs, inputs and set states that JSON would change', async () => {
    const store = jsonRoundTripStore(memoryStore());
    await expect(
      store.apply('k', returning({ ok: 1 }, { retryAfterMs: Number.POSITIVE_INFINITY }), null, 0),
    ).rejects.toThrow(/the output of test\.returning\.retryAfterMs is Infinity/);
    await expect(store.apply('k', returning({ ok: 1 }, null), { at: new Date(0) }, 0)).rejects.toThrow(
      /the input of test\.returning\.at is a Date/,
    );
    await expect(store.set('k', { fn: () => 1 }, 1_000, 0)).rejects.toThrow(/the state set at k\.fn is a function/);
  });

  it('passes undefined properties and an undefined output through as JSON does', async () => {
    const store = jsonRoundTripStore(memoryStore());
    expect(await store.apply('k', returning({ a: 1, b: undefined }, undefined), null, 0)).toBeUndefined();
    expect(await store.get('k', 0)).toStrictEqual({ a: 1 });
  });

  it('answers supports as the store it wraps does, and has no supports when it has none', () => {
    expect(jsonRoundTripStore(memoryStore()).supports).toBeUndefined();
    const wrapped = jsonRoundTripStore(Object.assign(memoryStore(), { supports: (name: string) => name === 'a' }));
    expect([wrapped.supports?.('a', null), wrapped.supports?.('b', null)]).toEqual([true, false]);
  });
});
