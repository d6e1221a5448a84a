import { beginTransition } from '../idempotency/record.js';
import { fixedWindow } from '../ratelimit/windows.js';
import { storeKey, storeNamespace } from '../store/namespace.js';
import { breakerScenarios } from './conformance-breaker.js';
import { idempotencyScenarios } from './conformance-idempotency.js';
import { rejects, type StoreFactory, type StoreScenario, same } from './conformance-kit.js';
import { messageScenarios } from './conformance-messages.js';
import { namespaceScenarios } from './conformance-namespaces.js';
import { pinScenarios } from './conformance-pins.js';
import { rateLimitScenarios } from './conformance-ratelimit.js';
import { sagaScenarios } from './conformance-saga.js';
import { supportScenarios } from './conformance-supports.js';

export type { StoreFactory, StoreScenario } from './conformance-kit.js';

/** The test-runner functions `runStoreConformance` registers scenarios with (vitest, jest, node:test). */
export interface ConformanceRunner {
  describe(name: string, body: () => void): void;
  it(name: string, body: () => Promise<void>): void;
}

const ns = storeNamespace('conformance', 'basic');
const begin = beginTransition(1_000);
const window = (limit: number) => fixedWindow({ limit, windowMs: 60_000 }).consume;

/** The basic operations: claim-if-absent, all-or-nothing batches, set/get/delete/keys. */
const basicScenarios: readonly StoreScenario[] = [
  {
    name: 'claim-if-absent returns the existing record to later callers, also one written by set',
    async run(makeStore) {
      const store = await makeStore();
      const key = storeKey(ns, 'claim');
      const claims = await Promise.all(['a', 'b'].map((owner) => store.apply(key, begin, { fp: null, owner }, 0)));
      same(claims.map((c) => c.kind).sort(), ['acquired', 'in_flight'], 'concurrent claims');
      const done = { s: 'done', fp: null, outcome: { ok: true, value: 'ok' } } as const;
      await store.set(key, done, 1_000, 10);
      same(await store.apply(key, begin, { fp: null, owner: 'c' }, 20), { kind: 'done', outcome: done.outcome }, 'set');
      same(await store.apply(key, begin, { fp: null, owner: 'c' }, 1_010), { kind: 'acquired' }, 'after expiry');
    },
  },
  {
    name: 'applyAll writes every key or none',
    async run(makeStore) {
      const store = await makeStore();
      // Keys sharing a hash tag (one Redis Cluster slot), as a limiter's per-limit keys do.
      const [a, b] = [`${storeKey(ns, 'batch')}|a`, `${storeKey(ns, 'batch')}|b`];
      await store.apply(b, window(1), 1, 0);
      const refused = await store.applyAll(
        [
          { key: a, transition: window(5), input: 1 },
          { key: b, transition: window(1), input: 1 },
        ],
        0,
      );
      same(
        refused.map((d) => (d as { allowed: boolean }).allowed),
        [true, false],
        'decisions of a refused batch',
      );
      const first = { windowStart: 0, count: 1 };
      same([await store.get(a, 0), await store.get(b, 0)], [undefined, first], 'states after a refused batch');
      const accepted = await store.applyAll(
        [
          { key: a, transition: window(5), input: 1 },
          { key: b, transition: window(5), input: 1 },
        ],
        0,
      );
      same(
        accepted.map((d) => (d as { remaining: number }).remaining),
        [4, 3],
        'remaining after an accepted batch',
      );
      same([await store.get(a, 0), await store.get(b, 0)], [first, { windowStart: 0, count: 2 }], 'states');
      const repeated = [
        { key: a, transition: window(5), input: 1 },
        { key: a, transition: window(5), input: 1 },
      ];
      await rejects(() => store.applyAll(repeated, 0), TypeError, 'applyAll with a repeated key');
      same(await store.get(a, 0), first, 'state after a batch with a repeated key');
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
 * Every scenario of the store contract, for any implementation: each uses only the `Store`
 * interface and the toolkit's transitions. See docs/stores.md.
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
    ...supportScenarios,
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
