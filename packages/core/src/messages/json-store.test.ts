/**
 * The workflows over a store that behaves like a networked one: every state, input and
 * output crosses JSON, every operation resolves asynchronously, and operations on one key
 * are serialised. If a transition kept non-JSON state or relied on the memory store's
 * synchronous promises, these tests would fail where the unit tests pass.
 */
import { describe, expect, it, vi } from 'vitest';
import { FakeClock } from '../clock/fake-clock.js';
import { idempotency } from '../idempotency/idempotency.js';
import { saga } from '../saga/saga.js';
import type { Store, StoreOperation, Transition } from '../store/store.js';
import { messageProcessor } from './processor.js';

class JsonStore implements Store {
  readonly #data = new Map<string, { json: string; expires: number }>();
  #queue: Promise<unknown> = Promise.resolve();

  #read(key: string, now: number): unknown {
    const entry = this.#data.get(key);
    if (!entry || entry.expires <= now) return undefined;
    return JSON.parse(entry.json);
  }

  #serial<T>(op: () => T): Promise<T> {
    const next = this.#queue.then(async () => {
      await new Promise<void>((resolve) => setImmediate(resolve)); // a round trip
      return op();
    });
    this.#queue = next.catch(() => undefined);
    return next;
  }

  #step<S, I, O>(key: string, transition: Transition<S, I, O>, input: I, now: number) {
    const result = transition.apply(this.#read(key, now) as S | undefined, JSON.parse(JSON.stringify(input)), now);
    return { key, result };
  }

  #write(key: string, state: unknown, ttlMs: number, now: number): void {
    if (state === undefined) this.#data.delete(key);
    else this.#data.set(key, { json: JSON.stringify(state), expires: now + ttlMs });
  }

  apply<S, I, O>(key: string, transition: Transition<S, I, O>, input: I, now: number): Promise<O> {
    return this.#serial(() => {
      const { result } = this.#step(key, transition, input, now);
      if (result.write !== false) this.#write(key, result.state, result.ttlMs, now);
      return JSON.parse(JSON.stringify(result.output ?? null)) as O;
    });
  }

  applyAll(operations: readonly StoreOperation[], now: number): Promise<unknown[]> {
    return this.#serial(() => {
      const steps = operations.map((op) => this.#step(op.key, op.transition, op.input, now));
      if (steps.every((s) => s.result.accepted !== false)) {
        for (const s of steps) if (s.result.write !== false) this.#write(s.key, s.result.state, s.result.ttlMs, now);
      }
      return steps.map((s) => s.result.output);
    });
  }

  get<S>(key: string, now: number): Promise<S | undefined> {
    return this.#serial(() => this.#read(key, now) as S | undefined);
  }

  set<S>(key: string, state: S, ttlMs: number, now: number): Promise<void> {
    return this.#serial(() => this.#write(key, state, ttlMs, now));
  }

  delete(key: string): Promise<boolean> {
    return this.#serial(() => this.#data.delete(key));
  }

  keys(prefix: string, now: number): Promise<string[]> {
    return this.#serial(() =>
      [...this.#data.entries()].filter(([k, e]) => k.startsWith(prefix) && e.expires > now).map(([k]) => k),
    );
  }
}

describe('workflows over a JSON, asynchronous store', () => {
  it('idempotency: 1 000 concurrent calls over two processes run fn once and replay after', async () => {
    const clock = new FakeClock();
    const store = new JsonStore();
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
    const store = new JsonStore();
    const undone: unknown[] = [];
    const define = (hang: boolean) =>
      saga<{ order: string }>('order', { store, clock, random: () => 0.3, recoverAfterMs: 1_000 })
        .step({ name: 'reserve', run: () => ({ slot: 4 }), compensate: (_c, r) => void undone.push(['release', r]) })
        .step({
          name: 'charge',
          run: () => (hang ? new Promise(() => {}) : 'c'),
          compensate: (_c, r) => void undone.push(['refund', r]),
        });
    void define(true).execute({ order: 'o' }, { id: 'x' });
    for (let i = 0; i < 20; i++) await new Promise<void>((resolve) => setImmediate(resolve)); // let the log writes land
    expect(await store.get('saga:order:x', clock.now())).toMatchObject({
      steps: [{ s: 'completed' }, { s: 'started' }],
    });
    await clock.advance(1_000);
    const [report] = await define(false).recover();
    expect(report?.status).toBe('compensated');
    expect(undone).toEqual([
      ['refund', undefined],
      ['release', { slot: 4 }],
    ]);
    expect(await store.keys('saga:', clock.now())).toEqual([]);
  });

  it('messages: dead-lettered exactly once after maxAttempts', async () => {
    const store = new JsonStore();
    const deadLetter = vi.fn();
    const p = messageProcessor<{ id: string }>({
      handler: () => Promise.reject(Object.assign(new Error('reset'), { code: 'ECONNRESET' })),
      deadLetter,
      store,
      maxAttempts: 3,
    });
    const outcomes: string[] = [];
    for (let i = 0; i < 4; i++) outcomes.push(await p.process({ id: 'm' }));
    expect(outcomes).toEqual(['retry', 'retry', 'dead_lettered', 'dead_lettered']);
    expect(deadLetter).toHaveBeenCalledTimes(1);
  });
});
