import { describe, expect, it, vi } from 'vitest';
import { FakeClock } from '../clock/fake-clock.js';
import { ConfigurationError } from '../errors/errors.js';
import { memoryStore } from '../store/memory.js';
import type { Store } from '../store/store.js';
import { deferred } from '../testing/deferred.js';
import { jsonRoundTripStore } from '../testing/json-round-trip-store.js';
import { type IdempotencyEvent, idempotency } from './idempotency.js';
import { unrecorded } from './unrecorded.js';

const fixed = () => 0.25;
const stores: [string, () => Store][] = [
  ['the memory store', () => memoryStore()],
  ['a JSON store', () => jsonRoundTripStore(memoryStore())],
];

describe.each(stores)('unrecorded(value, reason) on %s', (_, makeStore) => {
  it('gives the caller the value, says it was not recorded, frees the key and emits not_recorded', async () => {
    const idem = idempotency({ store: makeStore(), clock: new FakeClock(), random: fixed });
    const events: IdempotencyEvent[] = [];
    idem.onEvent((e) => events.push(e));
    const fn = vi.fn(async () => unrecorded({ rows: 3 }, 'partial'));
    expect(await idem.executeDetailed('k', fn)).toEqual({
      value: { rows: 3 },
      source: 'executed',
      unrecorded: { reason: 'partial' },
    });
    expect(events).toEqual([
      { type: 'not_recorded', policy: 'idempotency', key: expect.any(String), reason: 'partial' },
    ]);
    // Nothing recorded: the next call with the key runs fn again, and this time records it.
    const second = vi.fn(() => ({ rows: 4 }));
    expect(await idem.executeDetailed('k', second)).toEqual({ value: { rows: 4 }, source: 'executed' });
    expect(await idem.executeDetailed('k', second)).toEqual({ value: { rows: 4 }, source: 'replayed' });
    expect([fn.mock.calls.length, second.mock.calls.length, idem.inFlight]).toEqual([1, 1, 0]);
  });

  it('gives every caller sharing the call the value (nothing thrown), then runs the next call again', async () => {
    const idem = idempotency({ store: makeStore(), clock: new FakeClock(), random: fixed });
    const gate = deferred<string>();
    const fn = vi.fn(async () => unrecorded(await gate.promise, 'streamed'));
    const calls = [idem.executeDetailed('k', fn), idem.executeDetailed('k', fn), idem.executeDetailed('k', fn)];
    gate.resolve('body');
    const why = { reason: 'streamed' };
    expect(await Promise.all(calls)).toEqual([
      { value: 'body', source: 'executed', unrecorded: why },
      { value: 'body', source: 'shared', unrecorded: why },
      { value: 'body', source: 'shared', unrecorded: why },
    ]);
    expect(fn).toHaveBeenCalledTimes(1);
    expect(await idem.execute('k', () => 'again')).toBe('again');
  });
});

describe('unrecorded', () => {
  it('lets a call waiting in another process run fn itself once the key is freed', async () => {
    const clock = new FakeClock();
    const store = memoryStore();
    const one = idempotency({ store, clock, random: () => 0.1 });
    const two = idempotency({ store, clock, random: () => 0.2, pollIntervalMs: 10 });
    const gate = deferred<number>();
    const first = one.execute('k', async () => unrecorded(await gate.promise, 'partial'));
    await clock.advance(0);
    const waiting = two.executeDetailed('k', () => 2);
    await clock.advance(10);
    gate.resolve(1);
    expect(await first).toBe(1);
    await clock.advance(10);
    expect(await waiting).toEqual({ value: 2, source: 'executed' });
  });

  it('types execute as the value, marker or not', async () => {
    const idem = idempotency({ clock: new FakeClock(), random: fixed });
    const n: number = await idem.execute('a', () => unrecorded(1, 'x'));
    const s: string = await idem.execute('b', async () => (n > 0 ? unrecorded('big', 'x') : 'small'));
    // A value with a `value` of its own is still the type: nothing is inferred from the marker's shape.
    const outcome = await idem.execute('c', async (): Promise<{ value?: unknown; note: string }> => ({ note: 'n' }));
    const note: string = outcome.note;
    expect([n, s, note]).toEqual([1, 'big', 'n']);
  });

  it('refuses a reason that is not a non-empty string, naming reason', () => {
    expect(() => unrecorded(1, '')).toThrow(ConfigurationError);
    expect(() => unrecorded(1, undefined as never)).toThrow(/reason/);
    expect(unrecorded(1, 'partial')).toMatchObject({ reason: 'partial' });
  });
});
