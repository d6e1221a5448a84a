import { describe, expect, it, vi } from 'vitest';
import { FakeClock } from '../clock/fake-clock.js';
import { ConfigurationError } from '../errors/errors.js';
import { memoryStore } from '../store/memory.js';
import type { Store } from '../store/store.js';
import { deferred } from '../testing/deferred.js';
import { jsonRoundTripStore } from '../testing/json-round-trip-store.js';
import { type IdempotencyEvent, idempotency } from './idempotency.js';
import type { IdempotencyOptions } from './options.js';

const fixed = () => 0.25;
const stores: [string, () => Store][] = [
  ['the memory store', () => memoryStore()],
  ['a JSON store', () => jsonRoundTripStore(memoryStore())],
];

/** An idempotency whose events are kept, and a way to tell whether a key's value was recorded. */
function subject(options: IdempotencyOptions) {
  const idem = idempotency({ clock: new FakeClock(), random: fixed, ...options });
  const events: IdempotencyEvent[] = [];
  idem.onEvent((e) => events.push(e));
  /** Runs `value` under `key` twice: true when the second call replayed the first. */
  const recorded = async (key: string, value: unknown) => {
    await idem.execute(key, () => value);
    return (await idem.executeDetailed(key, () => value)).source === 'replayed';
  };
  return { idem, events, recorded };
}

describe.each(stores)('maxRecordBytes on %s', (_, makeStore) => {
  it('records a value whose JSON is exactly maxRecordBytes, and not one a byte over', async () => {
    const { idem, events, recorded } = subject({ store: makeStore(), maxRecordBytes: 12 });
    expect(await recorded('at', 'abcdefghij')).toBe(true); // "abcdefghij": 12 bytes
    const fn = vi.fn(() => 'abcdefghijk'); // 13 bytes
    expect(await idem.executeDetailed('over', fn)).toEqual({
      value: 'abcdefghijk',
      source: 'executed',
      unrecorded: { reason: 'too_large', bytes: 13 },
    });
    expect(await idem.executeDetailed('over', fn)).toMatchObject({ source: 'executed' });
    expect(fn).toHaveBeenCalledTimes(2);
    expect(events.filter((e) => e.type === 'not_recorded')).toEqual([
      { type: 'not_recorded', policy: 'idempotency', key: expect.any(String), reason: 'too_large', bytes: 13 },
      { type: 'not_recorded', policy: 'idempotency', key: expect.any(String), reason: 'too_large', bytes: 13 },
    ]);
  });

  it('counts UTF-8 bytes, not characters: 2 for é, 3 for €, 4 for 😀, 6 for an escaped control character', async () => {
    const { idem, recorded } = subject({ store: makeStore(), maxRecordBytes: 14 });
    // Each is 12 bytes in quotes (14, at the bound), then one character more.
    for (const [char, count, over] of [
      ['é', 6, 16],
      ['€', 4, 17],
      ['😀', 3, 18],
      ['\u0001', 2, 20],
    ] as const) {
      expect(await recorded(`at-${char}`, char.repeat(count))).toBe(true);
      const result = await idem.executeDetailed(`over-${char}`, () => char.repeat(count + 1));
      expect(result.unrecorded).toEqual({ reason: 'too_large', bytes: over });
    }
  });

  it('measures an object as its JSON text', async () => {
    const { idem, recorded } = subject({ store: makeStore(), maxRecordBytes: 20 });
    expect(await recorded('at', { note: 'café €' })).toBe(true); // {"note":"café €"}: 20 bytes
    const result = await idem.executeDetailed('over', () => ({ note: 'café €!' }));
    expect(result).toMatchObject({ value: { note: 'café €!' }, unrecorded: { reason: 'too_large', bytes: 21 } });
  });

  it('gives every caller sharing an over-sized call its value, then frees the key', async () => {
    const { idem } = subject({ store: makeStore(), maxRecordBytes: 4 });
    const gate = deferred<string>();
    const fn = vi.fn(() => gate.promise);
    const calls = [idem.executeDetailed('k', fn), idem.executeDetailed('k', fn)];
    gate.resolve('too long');
    const why = { reason: 'too_large', bytes: 10 };
    expect(await Promise.all(calls)).toEqual([
      { value: 'too long', source: 'executed', unrecorded: why },
      { value: 'too long', source: 'shared', unrecorded: why },
    ]);
    expect(await idem.execute('k', () => 'ok')).toBe('ok');
    expect(fn).toHaveBeenCalledTimes(1);
  });

  it('does not record an error whose JSON is over the bound: it is thrown as it is and the key freed', async () => {
    const { idem, events } = subject({ store: makeStore(), recordErrors: true, maxRecordBytes: 100 });
    const long = new Error('x'.repeat(100));
    await expect(idem.execute('long', () => Promise.reject(long))).rejects.toBe(long);
    expect(events.at(-1)).toMatchObject({ type: 'not_recorded', reason: 'too_large', bytes: 142 }); // {"name":"Error","message":"xx…","status":500}
    expect(await idem.execute('long', () => 'ran again')).toBe('ran again');
    const short = new Error('declined');
    await expect(idem.execute('short', () => Promise.reject(short))).rejects.toBe(short);
    await expect(idem.execute('short', () => 'not run')).rejects.toMatchObject({ message: 'declined', replayed: true });
  });
});

describe('maxRecordBytes', () => {
  it('records at most 1 MiB by default', async () => {
    const { idem, recorded } = subject({});
    expect(await recorded('at', 'x'.repeat(1_048_574))).toBe(true);
    const result = await idem.executeDetailed('over', () => 'x'.repeat(1_048_575));
    expect(result.unrecorded).toEqual({ reason: 'too_large', bytes: 1_048_577 });
  });

  it('has no bound with Infinity, and 0 records only what JSON writes nothing for', async () => {
    expect(await subject({ maxRecordBytes: Number.POSITIVE_INFINITY }).recorded('k', 'x'.repeat(2_000_000))).toBe(true);
    const { recorded } = subject({ maxRecordBytes: 0 });
    expect(await recorded('nothing', undefined)).toBe(true);
    expect(await recorded('zero', 0)).toBe(false);
  });

  it("lets a call set its own bound in place of the instance's", async () => {
    const { idem } = subject({ maxRecordBytes: 4 });
    const wide = { maxRecordBytes: 100 };
    await idem.execute('k', () => 'a longer value', wide);
    expect(await idem.executeDetailed('k', () => 'other', wide)).toMatchObject({ source: 'replayed' });
    const narrow = await idem.executeDetailed('n', () => 'abc', { maxRecordBytes: 4 });
    expect(narrow.unrecorded).toEqual({ reason: 'too_large', bytes: 5 });
  });

  it('is checked at construction and per call, naming maxRecordBytes', async () => {
    for (const maxRecordBytes of [-1, 1.5, '1mb', Number.NaN, Number.NEGATIVE_INFINITY]) {
      expect(() => idempotency({ maxRecordBytes } as never)).toThrow(ConfigurationError);
      expect(() => idempotency({ maxRecordBytes } as never)).toThrow(/maxRecordBytes.*an integer >= 0, or Infinity/);
      const call = idempotency().execute('k', () => 1, { maxRecordBytes } as never);
      await expect(call).rejects.toThrow(/maxRecordBytes/);
    }
    expect(() => idempotency({ maxRecordBytes: 0 })).not.toThrow();
    expect(() => idempotency({ maxRecordBytes: Number.POSITIVE_INFINITY })).not.toThrow();
  });
});
