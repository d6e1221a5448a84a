import type { Transition } from '../store/store.js';
import { breakerScenarios } from './conformance-breaker.js';
import { idempotencyScenarios } from './conformance-idempotency.js';
import { type StoreFactory, type StoreScenario, same } from './conformance-kit.js';
import { messageScenarios } from './conformance-messages.js';
import { namespaceScenarios } from './conformance-namespaces.js';
import { pinScenarios } from './conformance-pins.js';
import { rateLimitScenarios } from './conformance-ratelimit.js';
import { sagaScenarios } from './conformance-saga.js';

export type { StoreFactory, StoreScenario } from './conformance-kit.js';

/** The test-runner functions `runStoreConformance` registers scenarios with (vitest, jest, node:test). */
export interface ConformanceRunner {
  describe(name: string, body: () => void): void;
  it(name: string, body: () => Promise<void>): void;
}

interface Claim {
  status: 'pending' | 'done';
  owner: string;
  result?: string;
}
const claim: Transition<Claim, { owner: string; ttlMs: number }, { claimed: boolean; record: Claim }> = {
  name: 'conformance.claim',
  params: null,
  apply(state, input) {
    if (state !== undefined) return { state, output: { claimed: false, record: state }, ttlMs: 0, write: false };
    const record: Claim = { status: 'pending', owner: input.owner };
    return { state: record, output: { claimed: true, record }, ttlMs: input.ttlMs };
  },
};
const counter: Transition<number, { ttlMs: number; max: number }, number> = {
  name: 'conformance.counter',
  params: null,
  apply(state, input) {
    const n = (state ?? 0) + 1;
    return { state: n, output: n, ttlMs: input.ttlMs, accepted: n <= input.max };
  },
};

/** The basic operations: claim-if-absent, atomic counters, all-or-nothing batches, set/get/delete/keys. */
const basicScenarios: readonly StoreScenario[] = [
  {
    name: 'claim-if-absent returns the existing record to later callers',
    async run(makeStore) {
      const store = await makeStore();
      const [a, b] = await Promise.all([
        store.apply('idem:1', claim, { owner: 'a', ttlMs: 1000 }, 0),
        store.apply('idem:1', claim, { owner: 'b', ttlMs: 1000 }, 0),
      ]);
      same([a.claimed, b.claimed, b.record.owner], [true, false, 'a'], 'claims');
      await store.set('idem:1', { status: 'done', owner: 'a', result: 'ok' }, 1000, 10);
      same(
        (await store.apply('idem:1', claim, { owner: 'c', ttlMs: 1000 }, 20)).record,
        { status: 'done', owner: 'a', result: 'ok' },
        'completed record',
      );
      same((await store.apply('idem:1', claim, { owner: 'c', ttlMs: 1000 }, 1010)).claimed, true, 'claim after expiry');
    },
  },
  {
    name: 'a counter increments atomically and expires with its TTL',
    async run(makeStore) {
      const store = await makeStore();
      const input = { ttlMs: 100, max: 1000 };
      const counts = await Promise.all(Array.from({ length: 50 }, () => store.apply('retry:m1', counter, input, 0)));
      same(Math.max(...counts), 50, 'last count');
      same(new Set(counts).size, 50, 'distinct counts');
      same(await store.apply('retry:m1', counter, input, 100), 1, 'count after expiry');
    },
  },
  {
    name: 'applyAll writes every key or none',
    async run(makeStore) {
      const store = await makeStore();
      await store.set('b', 1, 1000, 0);
      const refused = await store.applyAll(
        [
          { key: 'a', transition: counter, input: { ttlMs: 1000, max: 5 } },
          { key: 'b', transition: counter, input: { ttlMs: 1000, max: 1 } },
        ],
        0,
      );
      same(refused, [1, 2], 'outputs of a refused batch');
      same([await store.get('a', 0), await store.get('b', 0)], [undefined, 1], 'states after a refused batch');
      const accepted = await store.applyAll(
        [
          { key: 'a', transition: counter, input: { ttlMs: 1000, max: 5 } },
          { key: 'b', transition: counter, input: { ttlMs: 1000, max: 5 } },
        ],
        0,
      );
      same(accepted, [1, 2], 'outputs of an accepted batch');
      same([await store.get('a', 0), await store.get('b', 0)], [1, 2], 'states after an accepted batch');
    },
  },
  {
    name: 'set, get, delete and keys by prefix',
    async run(makeStore) {
      const store = await makeStore();
      await store.set('saga:1', { step: 2 }, Number.POSITIVE_INFINITY, 0);
      await store.set('saga:2', { step: 1 }, 50, 0);
      await store.set('other:1', { step: 1 }, Number.POSITIVE_INFINITY, 0);
      same(await store.get('saga:1', 10), { step: 2 }, 'get');
      same((await store.keys('saga:', 10)).sort(), ['saga:1', 'saga:2'], 'keys before expiry');
      same(await store.keys('saga:', 50), ['saga:1'], 'keys after expiry');
      same((await store.keys('', 10, { limit: 2 })).length, 2, 'keys with a limit');
      same(await store.delete('saga:1'), true, 'delete of a live key');
      same(await store.delete('saga:1'), false, 'delete of a missing key');
      same(await store.get('saga:1', 10), undefined, 'get after delete');
    },
  },
];

/**
 * Every scenario of the store contract, for any implementation: the rate-limit algorithms,
 * the basic operations, namespaced keys, pinned locks, a breaker shared through a store, and every transition the workflows apply (idempotency records,
 * message retry counters, saga logs and their recovery claims). Each uses the `Store`
 * interface only, so a store passes by behaving, not by being a particular class.
 */
export function storeConformanceScenarios(): StoreScenario[] {
  return [
    ...rateLimitScenarios,
    ...basicScenarios,
    ...namespaceScenarios,
    ...breakerScenarios,
    ...idempotencyScenarios,
    ...pinScenarios,
    ...messageScenarios,
    ...sagaScenarios,
  ];
}

/**
 * Registers every scenario with a test runner.
 *
 * @example
 * import { describe, it } from 'vitest';
 * runStoreConformance('memoryStore', () => memoryStore(), { describe, it });
 */
export function runStoreConformance(name: string, makeStore: StoreFactory, runner: ConformanceRunner): void {
  runner.describe(`${name} conforms to the Store contract`, () => {
    for (const scenario of storeConformanceScenarios()) runner.it(scenario.name, () => scenario.run(makeStore));
  });
}
