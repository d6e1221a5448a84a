/**
 * Scenarios for namespaced keys (`storeNamespace`): a store keeps every character of a key
 * (`%`, `:`, `|`, glob characters) and matches `keys(prefix)` literally, so two namespaces
 * whose names start alike never see each other's keys.
 */
import { attemptTransition } from '../messages/counter.js';
import { storeKey, storeNamespace } from '../store/namespace.js';
import { type StoreScenario, same, timelineOn } from './conformance-kit.js';

const count = attemptTransition(10_000);

/** Pairs of names where one is a prefix of the other, or a glob pattern that matches it. */
const PAIRS = [
  ['order', 'order:v2'],
  ['a', 'a*'],
  ['ab', 'a*'],
  ['a', '[ab]'],
  ['ab', 'a?'],
  ['50%', '50%25'],
  ['a\\b', 'a\\\\b'],
] as const;
const ns = (name: string) => storeNamespace('conformance', name);

export const namespaceScenarios: readonly StoreScenario[] = [
  {
    name: 'namespaces: names where one is a prefix (or a glob) of another never see each other’s keys',
    async run(makeStore) {
      const { store, at } = await timelineOn(makeStore);
      const now = await at(0);
      // At most 7 keys at a time, for stores that bound their keys.
      for (const pair of PAIRS) {
        // Keys that would collide if namespaces were plain prefixes: order + v2:k, order:v2 + k.
        const keysOf = (name: string) => ['k', 'v2:k', `${name}|k`].map((key) => storeKey(ns(name), key));
        for (const name of pair) for (const key of keysOf(name)) await store.apply(key, count, null, now);
        for (const name of pair) {
          const what = (op: string) => `${op} in ${JSON.stringify(ns(name))} beside ${JSON.stringify(pair)}`;
          same((await store.keys(ns(name), now)).sort(), keysOf(name).sort(), what('keys'));
          for (const key of keysOf(name))
            same(await store.get(key, now), { n: 1 }, what(`get(${JSON.stringify(key)})`));
        }
        for (const name of pair) for (const key of keysOf(name)) await store.delete(key);
      }
      const [order, v2, segments] = [ns('order'), ns('order:v2'), storeNamespace('conformance', 'order', 'v2')];
      await store.apply(storeKey(order, 'v2:k'), count, null, now);
      await store.apply(storeKey(v2, 'k'), count, null, now);
      await store.set(storeKey(segments, 'k'), 7, 10_000, now);
      same(
        (await store.apply(storeKey(order, 'v2:k'), count, null, now)).attempt,
        2,
        'apply in order after order:v2 wrote k',
      );
      same(await store.get(storeKey(v2, 'k'), now), { n: 1 }, 'order:v2’s k after order’s v2:k changed');
      same(await store.get(storeKey(segments, 'k'), now), 7, 'the segments order, v2');
      same(await store.keys(order, now), [storeKey(order, 'v2:k')], 'keys of order');
    },
  },
];
