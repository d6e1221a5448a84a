/**
 * The workflows over a store that behaves like a networked one (`jsonRoundTripStore`):
 * every state, input and output crosses JSON, every operation resolves on a later
 * macrotask, and operations on one key are serialised by the memory store inside. If a
 * transition kept non-JSON state or relied on the memory store's settled promises, these
 * tests would fail where the unit tests pass.
 */
import { describe, expect, it, vi } from 'vitest';
import { FakeClock } from '../clock/fake-clock.js';
import { idempotency } from '../idempotency/idempotency.js';
import { saga } from '../saga/saga.js';
import { memoryStore } from '../store/memory.js';
import { jsonRoundTripStore } from '../testing/json-round-trip-store.js';
import { messageProcessor } from './processor.js';

const jsonStore = () => jsonRoundTripStore(memoryStore());

describe('workflows over a JSON, asynchronous store', () => {
  it('idempotency: 1 000 concurrent calls over two processes run fn once and replay after', async () => {
    const clock = new FakeClock();
    const store = jsonStore();
    const one = idempotency({ store, clock, random: () => 0.1, pollIntervalMs: 5 });
    const two = idempotency({ store, clock, random: () => 0.2, pollIntervalMs: 5 });
    const fn = vi.fn(async () => {
      await clock.sleep(20);
      return { id: 'pay-1', amount: 5 };
    });
    const calls = Array.from({ length: 1_000 }, (_, i) => (i % 2 ? one : two).execute('k', fn, { fingerprint: 'f' }));
    for (let t = 0; t < 10; t++) await clock.advance(5);
    const values = await Promise.all(calls);
    expect(fn).toHaveBeenCalledTimes(1);
    expect(values.every((v) => v.id === 'pay-1')).toBe(true);
    expect(await one.executeDetailed('k', fn, { fingerprint: 'f' })).toMatchObject({ source: 'replayed' });
  });

  it('saga: a crash mid-way is compensated by a new instance calling recover()', async () => {
    const clock = new FakeClock();
    const store = jsonStore();
    const undone: unknown[] = [];
    // The crashed process runs no timers (it renews nothing): its clock stands still.
    const define = (hang: boolean) =>
      saga<{ order: string }>('order', {
        store,
        clock: hang ? new FakeClock() : clock,
        random: () => 0.3,
        recoverAfterMs: 1_000,
      })
        .step({ name: 'reserve', run: () => ({ slot: 4 }), compensate: (_c, r) => void undone.push(['release', r]) })
        .step({
          name: 'charge',
          run: () => (hang ? new Promise(() => {}) : 'c'),
          compensate: (_c, r) => void undone.push(['refund', r]),
        });
    void define(true).execute({ order: 'o' }, { id: 'x' });
    for (let i = 0; i < 20; i++) await new Promise<void>((resolve) => setImmediate(resolve)); // let the log writes land
    expect(await store.get('{saga:order|x}', clock.now())).toMatchObject({
      steps: [{ s: 'completed' }, { s: 'started' }],
    });
    await clock.advance(1_000);
    const [report] = await define(false).recover();
    expect(report?.status).toBe('compensated');
    expect(undone).toEqual([
      ['refund', undefined],
      ['release', { slot: 4 }],
    ]);
    expect(await store.keys('{saga:', clock.now())).toEqual([]);
  });

  it('messages: dead-lettered exactly once after maxAttempts', async () => {
    const store = jsonStore();
    const deadLetter = vi.fn();
    const p = messageProcessor<{ id: string }>({
      handler: () => Promise.reject(Object.assign(new Error('reset'), { code: 'ECONNRESET' })),
      deadLetter,
      store,
      maxAttempts: 3,
    });
    const outcomes: string[] = [];
    for (let i = 0; i < 4; i++) outcomes.push((await p.process({ id: 'm' })).outcome);
    expect(outcomes).toEqual(['retry', 'retry', 'dead_lettered', 'dead_lettered']);
    expect(deadLetter).toHaveBeenCalledTimes(1);
  });
});
