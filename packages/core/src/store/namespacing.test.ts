/**
 * Every consumer of a store (rate limiters, groups, idempotency, sagas, message processors,
 * shared breakers) sharing one store, named so that one name is a prefix of another: none
 * sees another's keys, whatever the store and whatever order they were created in.
 */
import { describe, expect, it, vi } from 'vitest';
import { circuitBreaker } from '../breaker/breaker.js';
import { consecutive } from '../breaker/strategy.js';
import { FakeClock } from '../clock/fake-clock.js';
import { idempotency } from '../idempotency/idempotency.js';
import { messageProcessor } from '../messages/processor.js';
import { rateLimitGroup } from '../ratelimit/group.js';
import { rateLimiter } from '../ratelimit/limiter.js';
import { tokenBucket } from '../ratelimit/token-bucket.js';
import { saga } from '../saga/saga.js';
import { jsonRoundTripStore } from '../testing/json-round-trip-store.js';
import { memoryStore } from './memory.js';
import type { Store } from './store.js';

const stores: [string, () => Store][] = [
  ['memoryStore', () => memoryStore()],
  ['a JSON store', () => jsonRoundTripStore(memoryStore())],
];
const oneToken = () => tokenBucket({ capacity: 1, refillPerSecond: 1 / 3600 });

describe.each(stores)('consumers sharing %s', (_, makeStore) => {
  it('saga order never recovers the logs of saga order:v2', async () => {
    const store = makeStore();
    const clock = new FakeClock();
    const undone: string[] = [];
    // The crashed process gets a clock of its own that never moves: a dead process renews no lease.
    const define = (name: string, hang: boolean) =>
      saga(name, { store, clock: hang ? new FakeClock() : clock, random: () => 0.3, recoverAfterMs: 1_000 }).step({
        name: 'charge',
        run: () => (hang ? new Promise<never>(() => {}) : 'charged'),
        compensate: () => void undone.push(name),
      });
    void define('order:v2', true).execute(null, { id: 'x' });
    for (let i = 0; i < 10; i++) await new Promise<void>((resolve) => setImmediate(resolve));
    await clock.advance(1_000);
    expect(await define('order', false).recover()).toEqual([]);
    expect(await define('order:v2', false).recover()).toHaveLength(1);
    expect(undone).toEqual(['order:v2']);
  });

  it('rate-limit group operations a (key b:x) and a:b (key x) keep separate buckets', async () => {
    const group = rateLimitGroup({ limits: { a: oneToken(), 'a:b': oneToken() }, store: makeStore() });
    expect((await group.consume('a', 'b:x')).allowed).toBe(true);
    expect((await group.consume('a:b', 'x')).allowed).toBe(true);
    expect((await group.consume('a:b', 'x')).allowed).toBe(false);
  });

  it('creating limiter api:v2 leaves limiter api’s v2:* keys where they are', async () => {
    const store = makeStore();
    const clock = new FakeClock();
    const api = rateLimiter({ algorithm: oneToken(), store, name: 'api', clock });
    expect((await api.consume('v2:k')).allowed).toBe(true);
    expect((await api.consume('v2:k')).allowed).toBe(false);
    const v2 = rateLimiter({ algorithm: oneToken(), store, name: 'api:v2', clock });
    expect((await api.consume('v2:k')).allowed).toBe(false);
    expect((await v2.consume('k')).allowed).toBe(true);
  });

  it('idempotency prefixes idem:orders and idem:orders:v2 keep separate records', async () => {
    const store = makeStore();
    const clock = new FakeClock();
    const orders = idempotency({ store, clock, keyPrefix: 'idem:orders' });
    const v2 = idempotency({ store, clock, keyPrefix: 'idem:orders:v2' });
    expect(await orders.execute('v2:k', () => 'orders')).toBe('orders');
    expect(await v2.execute('k', () => 'v2')).toBe('v2');
    expect(await orders.execute('a', () => 'unscoped')).toBe('unscoped');
    expect(await orders.execute('k', () => 'scoped', { scope: 'a' })).toBe('scoped');
  });

  it('message processors with prefixes q: and q:a: count attempts apart', async () => {
    const store = makeStore();
    const seen: number[] = [];
    const make = (keyPrefix: string) =>
      messageProcessor<{ id: string }>({
        handler: (_m, { attempt }) => {
          seen.push(attempt);
          throw Object.assign(new Error('reset'), { code: 'ECONNRESET' });
        },
        deadLetter: vi.fn(),
        store,
        keyPrefix,
        maxAttempts: 5,
      });
    await make('q:').process({ id: 'a:1' });
    await make('q:').process({ id: 'a:1' });
    await make('q:a:').process({ id: '1' });
    expect(seen).toEqual([1, 2, 1]);
  });

  it('a limiter named saga, a breaker and a saga named order never touch each other’s keys', async () => {
    const store = makeStore();
    const clock = new FakeClock();
    const undone: string[] = [];
    // The crashed process gets a clock of its own that never moves: a dead process renews no lease.
    const define = (hang: boolean) =>
      saga('order', { store, clock: hang ? new FakeClock() : clock, random: () => 0.3, recoverAfterMs: 1_000 }).step({
        name: 'charge',
        run: () => (hang ? new Promise<never>(() => {}) : 'charged'),
        compensate: () => void undone.push('charge'),
      });
    void define(true).execute(null, { id: 'x' });
    for (let i = 0; i < 10; i++) await new Promise<void>((resolve) => setImmediate(resolve));
    const limiter = rateLimiter({ algorithm: oneToken(), store, name: 'saga', clock });
    expect((await limiter.consume('order:x')).allowed).toBe(true);
    const breaker = circuitBreaker({ store, name: 'saga:order:x', strategy: consecutive(1), clock, registry: false });
    await breaker.execute(() => Promise.reject(new Error('down'))).catch(() => undefined);
    await clock.advance(1_000);
    expect(await define(false).recover()).toHaveLength(1);
    expect(undone).toEqual(['charge']);
  });
});
