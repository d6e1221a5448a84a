/**
 * Exactly one dead-letter sink call per message id, whatever the concurrency: the
 * dead-lettering is claimed in the store (with a lease) before the sink is called.
 */
import { describe, expect, it, vi } from 'vitest';
import { FakeClock } from '../clock/fake-clock.js';
import { memoryStore } from '../store/memory.js';
import type { Store } from '../store/store.js';
import { deferred } from '../testing/deferred.js';
import { jsonRoundTripStore } from '../testing/json-round-trip-store.js';
import { messageProcessor } from './processor.js';

interface Msg {
  id: string;
  body: string;
}

const msg = (id = 'm1'): Msg => ({ id, body: '{}' });
const lost = () => Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });

const stores: [string, () => Store][] = [
  ['a memory store', () => memoryStore()],
  ['a JSON, asynchronous store', () => jsonRoundTripStore(memoryStore())],
];

describe.each(stores)('dead-lettering on %s', (_name, makeStore) => {
  it('calls the sink once for 10 concurrent deliveries of one failing id (maxAttempts 3)', async () => {
    const sink = deferred();
    const deadLetter = vi.fn(() => sink.promise);
    const handler = vi.fn(() => Promise.reject(lost()));
    const p = messageProcessor<Msg>({ handler, deadLetter, maxAttempts: 3, store: makeStore() });
    const outcomes = Array.from({ length: 10 }, () => p.process(msg()).then((r) => r.outcome));
    await vi.waitFor(() => expect(deadLetter).toHaveBeenCalled());
    sink.resolve();
    const settled = await Promise.all(outcomes);
    expect(deadLetter).toHaveBeenCalledTimes(1);
    expect(handler.mock.calls.length).toBeLessThanOrEqual(3);
    expect(settled.filter((o) => o === 'dead_lettered').length).toBeGreaterThanOrEqual(1);
    expect((await p.process(msg())).outcome).toBe('dead_lettered'); // a later redelivery is acknowledged
    expect(deadLetter).toHaveBeenCalledTimes(1);
  });

  it('calls the sink once when a slow delivery succeeds while another dead-letters the id', async () => {
    const slow = deferred();
    const sink = deferred();
    let runs = 0;
    const handler = vi.fn(() => (++runs === 1 ? slow.promise : Promise.reject(lost())));
    const deadLetter = vi.fn(() => sink.promise);
    const p = messageProcessor<Msg>({ handler, deadLetter, maxAttempts: 1, store: makeStore() });
    const first = p.process(msg()); // attempt 1 runs, slowly
    await vi.waitFor(() => expect(handler).toHaveBeenCalledTimes(1));
    const second = p.process(msg()); // a redelivery past maxAttempts: claims, sinks
    await vi.waitFor(() => expect(deadLetter).toHaveBeenCalledTimes(1));
    slow.resolve();
    expect((await first).outcome).toBe('done'); // its success must not drop the other's claim
    expect((await p.process(msg())).outcome).toBe('retry'); // the sink still runs: come back later
    sink.resolve();
    expect((await second).outcome).toBe('dead_lettered');
    await p.process(msg());
    await p.process(msg()); // the first's success did not drop the dead mark either
    expect([handler.mock.calls.length, deadLetter.mock.calls.length]).toEqual([1, 1]);
  });

  it('calls the sink once when the counter expires while a delivery runs and a redelivery counts from 1 again', async () => {
    const clock = new FakeClock();
    const slow = deferred();
    const sink = deferred();
    let runs = 0;
    const handler = vi.fn(() => (++runs === 1 ? slow.promise : Promise.resolve()).then(() => JSON.parse('{')));
    const deadLetter = vi.fn().mockReturnValueOnce(sink.promise);
    const p = messageProcessor<Msg>({ handler, deadLetter, store: makeStore(), clock, retryTtlMs: 1_000 });
    const first = p.process(msg()); // attempt 1 runs past retryTtlMs
    await vi.waitFor(() => expect(handler).toHaveBeenCalledTimes(1));
    await clock.advance(1_000);
    const second = p.process(msg()); // attempt 1 again: poison, claims, its sink runs
    await vi.waitFor(() => expect(deadLetter).toHaveBeenCalledTimes(1));
    slow.resolve(); // the first is poison too, with the same attempt number: the claim is not its
    expect((await first).outcome).toBe('retry');
    sink.resolve();
    expect((await second).outcome).toBe('dead_lettered');
    expect(deadLetter).toHaveBeenCalledTimes(1);
  });

  it('calls the sink once for 5 concurrent deliveries of one poison message', async () => {
    const deadLetter = vi.fn(async (_m: Msg) => {
      await new Promise<void>((resolve) => setImmediate(resolve));
    });
    const p = messageProcessor<Msg>({
      handler: (m) => JSON.parse(`${m.body}{`),
      deadLetter,
      store: makeStore(),
    });
    const outcomes = await Promise.all(Array.from({ length: 5 }, () => p.process(msg()).then((r) => r.outcome)));
    expect(deadLetter).toHaveBeenCalledTimes(1);
    // Deliveries past maxAttempts may claim first (earlier attempts look unfinished): either reason is right.
    expect(deadLetter.mock.calls[0]![0]).toEqual(msg());
    expect(outcomes).toContain('dead_lettered');
    expect(outcomes.every((o) => o === 'dead_lettered' || o === 'retry')).toBe(true);
  });
});

describe('the dead-letter claim', () => {
  it('tells a delivery that arrives while the sink runs to retry, without running the handler', async () => {
    const sink = deferred();
    const deadLetter = vi.fn(() => sink.promise);
    const handler = vi.fn(() => Promise.reject(lost()));
    const p = messageProcessor<Msg>({ handler, deadLetter, maxAttempts: 1 });
    const first = p.process(msg());
    await vi.waitFor(() => expect(deadLetter).toHaveBeenCalled());
    expect((await p.process(msg())).outcome).toBe('retry');
    expect(handler).toHaveBeenCalledTimes(1);
    expect(p.stats.concurrentDeadLetters).toBe(1);
    sink.resolve();
    expect((await first).outcome).toBe('dead_lettered');
  });

  it('is released when the sink fails, so the next delivery sinks the message', async () => {
    const sink = deferred();
    const deadLetter = vi.fn().mockReturnValueOnce(sink.promise).mockResolvedValue(undefined);
    const p = messageProcessor<Msg>({ handler: () => Promise.reject(lost()), deadLetter, maxAttempts: 1 });
    const first = p.process(msg());
    await vi.waitFor(() => expect(deadLetter).toHaveBeenCalled());
    expect((await p.process(msg())).outcome).toBe('retry'); // the claim is held while the sink runs
    sink.reject(new Error('DLQ unavailable'));
    await expect(first).rejects.toThrow('DLQ unavailable');
    expect((await p.process(msg())).outcome).toBe('dead_lettered');
    expect(deadLetter).toHaveBeenCalledTimes(2);
    expect(deadLetter.mock.calls[1]![1].description).toMatch(/Last error: Error: socket hang up/);
  });

  it('sinks a poison message whose sink failed as poison on the redelivery, without running its handler again', async () => {
    const deadLetter = vi.fn().mockRejectedValueOnce(new Error('DLQ unavailable')).mockResolvedValue(undefined);
    const handler = vi.fn(() => Promise.reject(new SyntaxError('Unexpected token } in JSON')));
    const store = jsonRoundTripStore(memoryStore());
    const p = messageProcessor<Msg>({ store, handler, deadLetter }); // default maxAttempts
    await expect(p.process(msg())).rejects.toThrow('DLQ unavailable');
    expect((await p.process(msg())).outcome).toBe('dead_lettered');
    expect(handler).toHaveBeenCalledTimes(1);
    expect(deadLetter).toHaveBeenCalledTimes(2);
    const [, again] = deadLetter.mock.calls[1]!;
    expect(again.reason).toBe('poison');
    expect(again.description).toMatch(/SyntaxError: Unexpected token/);
    expect(p.stats.deadLettered).toEqual({ poison: 1, max_retries_exceeded: 0 });
  });

  it('expires deadLetterLeaseMs after a process crashed while holding it, and a redelivery sinks the message', async () => {
    const store = memoryStore();
    const clock = new FakeClock();
    const deadLetter = vi.fn();
    const options = { store, maxAttempts: 1, deadLetterLeaseMs: 10_000, handler: () => Promise.reject(lost()) };
    // The crashed process: its sink never returns and, being dead, it runs no timers.
    const crashed = messageProcessor<Msg>({
      ...options,
      clock: new FakeClock(),
      deadLetter: () => new Promise(() => {}),
    });
    void crashed.process(msg());
    await new Promise<void>((resolve) => setImmediate(resolve));
    const alive = messageProcessor<Msg>({ ...options, clock, deadLetter });
    await clock.advance(9_999);
    expect((await alive.process(msg())).outcome).toBe('retry');
    await clock.advance(1);
    expect((await alive.process(msg())).outcome).toBe('dead_lettered');
    expect(deadLetter).toHaveBeenCalledTimes(1);
  });

  it('sinks a poison message unrun after the delivery sinking it crashed, or after its dead mark failed', async () => {
    const poison = () => Promise.reject(new SyntaxError('Unexpected token } in JSON'));
    // The crash: its sink never returns and, being dead, it runs no timers.
    const store = memoryStore();
    const clock = new FakeClock();
    const crashed = messageProcessor<Msg>({
      store,
      clock: new FakeClock(),
      deadLetterLeaseMs: 1_000,
      handler: poison,
      deadLetter: () => new Promise(() => {}),
    });
    void crashed.process(msg());
    await new Promise<void>((resolve) => setImmediate(resolve));
    const handler = vi.fn(poison);
    const deadLetter = vi.fn();
    const alive = messageProcessor<Msg>({ store, clock, deadLetterLeaseMs: 1_000, handler, deadLetter });
    await clock.advance(1_000);
    expect((await alive.process(msg())).outcome).toBe('dead_lettered');
    expect(handler).not.toHaveBeenCalled();
    expect(deadLetter.mock.calls[0]![1]).toMatchObject({
      reason: 'poison',
      description: /SyntaxError: Unexpected token/,
    });
    // The sink took it, but marking it dead failed: the redelivery sinks it again, unrun.
    const inner = memoryStore();
    let failDead = true;
    const flaky: typeof inner = Object.assign(Object.create(inner), {
      apply: ((key, transition, input, now) => {
        if (transition.name !== 'messages.dead' || !failDead) return inner.apply(key, transition, input, now);
        failDead = false;
        return Promise.reject(new Error('store down'));
      }) as typeof inner.apply,
    });
    const again = vi.fn(poison);
    const sunk = vi.fn();
    const p = messageProcessor<Msg>({
      store: flaky,
      clock,
      deadLetterLeaseMs: 1_000,
      handler: again,
      deadLetter: sunk,
    });
    expect((await p.process(msg())).outcome).toBe('dead_lettered');
    await clock.advance(1_000);
    expect((await p.process(msg())).outcome).toBe('dead_lettered');
    expect(again).toHaveBeenCalledTimes(1);
    expect(sunk.mock.calls.map(([, d]) => d.reason)).toEqual(['poison', 'poison']);
  });

  it('is renewed while a live sink runs longer than the lease, and the sink is still called once', async () => {
    const store = memoryStore();
    const clock = new FakeClock();
    const sink = deferred();
    const deadLetter = vi.fn(() => sink.promise);
    const options = { store, clock, maxAttempts: 1, deadLetterLeaseMs: 1_000, deadLetter };
    const slow = messageProcessor<Msg>({ ...options, handler: () => Promise.reject(lost()) });
    const first = slow.process(msg());
    await vi.waitFor(() => expect(deadLetter).toHaveBeenCalled());
    const other = messageProcessor<Msg>({ ...options, handler: vi.fn() });
    for (let t = 0; t < 5; t++) {
      await clock.advance(1_000);
      expect((await other.process(msg())).outcome).toBe('retry');
    }
    sink.resolve();
    expect((await first).outcome).toBe('dead_lettered');
    expect((await other.process(msg())).outcome).toBe('dead_lettered');
    expect(deadLetter).toHaveBeenCalledTimes(1);
    expect(clock.pendingTimers).toBe(0);
  });

  it('calls the sink once when a flood evicts the counter while a delivery runs and a redelivery counts from 1 again', async () => {
    const slow = deferred();
    const sink = deferred();
    let runs = 0;
    const handler = vi.fn((m: Msg) => {
      if (m.id !== 'm') return Promise.reject(lost());
      return (++runs === 1 ? slow.promise : Promise.resolve()).then(() => Promise.reject(new SyntaxError('bad')));
    });
    const deadLetter = vi.fn().mockReturnValueOnce(sink.promise);
    const p = messageProcessor<Msg>({ handler, deadLetter, store: memoryStore({ maxKeys: 10 }) });
    const first = p.process(msg('m')); // attempt 1 runs slowly
    await vi.waitFor(() => expect(handler).toHaveBeenCalledTimes(1));
    for (let i = 0; i < 20; i++) await p.process(msg(`flood-${i}`)); // evicts m's counter
    const second = p.process(msg('m')); // attempt 1 again: poison, claims, its sink runs
    await vi.waitFor(() => expect(deadLetter).toHaveBeenCalledTimes(1));
    slow.resolve();
    expect((await first).outcome).toBe('retry');
    sink.resolve();
    expect((await second).outcome).toBe('dead_lettered');
    expect((await p.process(msg('m'))).outcome).toBe('dead_lettered');
    expect(deadLetter).toHaveBeenCalledTimes(1);
  });

  it('is not evicted by a flood of other ids in a bounded store, nor unpinned by a failure beside it', async () => {
    const sink = deferred();
    let sinks = 0;
    const deadLetter = vi.fn(() => (++sinks === 1 ? sink.promise : undefined));
    const handler = vi.fn((m: Msg) => (m.id === 'm' ? Promise.reject(new SyntaxError('bad')) : Promise.reject(lost())));
    const clock = new FakeClock();
    const p = messageProcessor<Msg>({
      handler,
      deadLetter,
      store: memoryStore({ maxKeys: 10 }),
      clock,
    });
    const started = deferred();
    const late = messageProcessor<Msg>({
      handler: () => started.promise.then(() => Promise.reject(lost())),
      deadLetter,
      store: p.store,
      clock,
    });
    const beside = late.process(msg('m')); // began before the claim, fails while the sink runs
    const first = p.process(msg('m'));
    await vi.waitFor(() => expect(deadLetter).toHaveBeenCalled());
    started.resolve();
    expect((await beside).outcome).toBe('retry');
    for (let i = 0; i < 20; i++) await p.process(msg(`flood-${i}`));
    expect((await p.process(msg('m'))).outcome).toBe('retry');
    sink.resolve();
    expect((await first).outcome).toBe('dead_lettered');
    expect(deadLetter).toHaveBeenCalledTimes(1);
  });
});
