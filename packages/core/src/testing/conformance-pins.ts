/**
 * Scenarios for pinned keys (`TransitionResult.pinned`): an in-flight idempotency lock
 * survives a flood of other keys in a store that bounds its keys, until its TTL passes.
 */
import { beginTransition, completeTransition } from '../idempotency/record.js';
import { storeKey, storeNamespace } from '../store/namespace.js';
import { type StoreScenario, same, timelineOn } from './conformance-kit.js';

const LOCK_MS = 1_000;
const begin = beginTransition(LOCK_MS);
const complete = completeTransition(60_000);
const ns = storeNamespace('conformance', 'pins');

export const pinScenarios: readonly StoreScenario[] = [
  {
    name: 'pins: an in-flight lock survives 300 other records where the store bounds keys, until its TTL',
    async run(makeStore) {
      const { store, at } = await timelineOn(makeStore);
      const lock = storeKey(ns, 'pay-1');
      same(await store.apply(lock, begin, { fp: null, owner: 'a' }, await at(0)), { kind: 'acquired' }, 'a claims');
      const now = await at(10);
      for (let i = 0; i < 300; i++) {
        const key = storeKey(ns, `other-${i}`);
        await store.apply(key, begin, { fp: null, owner: 'x' }, now);
        await store.apply(key, complete, { fp: null, owner: 'x', outcome: { ok: true, value: i } }, now);
      }
      same(
        await store.apply(lock, begin, { fp: null, owner: 'b' }, await at(999)),
        { kind: 'in_flight', waitMs: 1 },
        'b while a’s lock lives, after 300 other records',
      );
      same(await store.apply(lock, begin, { fp: null, owner: 'b' }, await at(1_000)), { kind: 'acquired' }, 'b at TTL');
    },
  },
];
