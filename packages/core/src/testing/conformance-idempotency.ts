/**
 * Scenarios for the idempotency transitions (`idempotency.begin`, `idempotency.complete`,
 * `idempotency.release`), driven through the Store interface only, exactly as
 * `idempotency()` calls them.
 */
import { beginTransition, completeTransition, type RecordedOutcome, releaseTransition } from '../idempotency/record.js';
import { type StoreScenario, same, timelineOn } from './conformance-kit.js';

const LOCK_MS = 1_000;
const TTL_MS = 5_000;
const begin = beginTransition(LOCK_MS);
const complete = completeTransition(TTL_MS);
const KEY = 'idem:tenant-1:order-1';
const VALUE: RecordedOutcome = { ok: true, value: { id: 'order-1', total: 42.5, lines: ['a', 'b'], note: null } };
const ERROR: RecordedOutcome = {
  ok: false,
  error: { name: 'PaymentError', message: 'card declined', code: 'card_declined', status: 402 },
};

export const idempotencyScenarios: readonly StoreScenario[] = [
  {
    name: 'idempotency: claim, complete, replay, then the record expires with its TTL',
    async run(makeStore) {
      const { store, at } = await timelineOn(makeStore);
      const by = (owner: string, fp: string | null = 'f1') => ({ fp, owner });
      same(await store.apply(KEY, begin, by('a'), await at(0)), { kind: 'acquired' }, 'a claims a free key');
      same(await store.get(KEY, 0), { s: 'in_flight', fp: 'f1', owner: 'a', until: 1_000 }, 'record in flight');
      same(await store.apply(KEY, begin, by('b'), 0), { kind: 'in_flight', waitMs: 1_000 }, 'b while a runs');
      // A claim sent twice (its answer lost with a connection, the client sent it again) is a's own.
      same(await store.apply(KEY, begin, by('a'), 0), { kind: 'acquired' }, 'a claims again');
      same(await store.apply(KEY, begin, by('b'), await at(300)), { kind: 'in_flight', waitMs: 700 }, 'b at 300 ms');
      const done = { fp: 'f1', owner: 'a', outcome: VALUE };
      same(await store.apply(KEY, complete, done, await at(400)), true, 'a records its outcome');
      same(await store.get(KEY, 400), { s: 'done', fp: 'f1', owner: 'a', outcome: VALUE }, 'record done');
      // So is a complete sent twice: a's own record is there, written once.
      same(await store.apply(KEY, complete, { ...done, outcome: ERROR }, 400), true, 'a records again');
      same(await store.apply(KEY, begin, by('b'), await at(500)), { kind: 'done', outcome: VALUE }, 'b replays');
      same(await store.apply(KEY, begin, by('c', null), 500), { kind: 'done', outcome: VALUE }, 'no fingerprint');
      same(await store.apply(KEY, complete, { ...done, owner: 'b' }, await at(600)), false, 'complete by a non-owner');
      same(await store.get(KEY, 600), { s: 'done', fp: 'f1', owner: 'a', outcome: VALUE }, 'record after completes');
      same(
        await store.apply(KEY, begin, by('d'), await at(5_399)),
        { kind: 'done', outcome: VALUE },
        'replay at TTL - 1',
      );
      same(await store.get(KEY, await at(5_400)), undefined, 'record once its TTL (from the complete) passed');
      same(await store.apply(KEY, begin, by('d', 'f2'), 5_400), { kind: 'acquired' }, 'claim after expiry');
    },
  },
  {
    name: 'idempotency: a different fingerprint is refused while in flight and once done, writing nothing',
    async run(makeStore) {
      const { store, at } = await timelineOn(makeStore);
      same(await store.apply(KEY, begin, { fp: 'f1', owner: 'a' }, await at(0)), { kind: 'acquired' }, 'a claims');
      same(await store.apply(KEY, begin, { fp: 'f2', owner: 'b' }, await at(10)), { kind: 'mismatch' }, 'in flight');
      same(await store.get(KEY, 10), { s: 'in_flight', fp: 'f1', owner: 'a', until: 1_000 }, 'record kept');
      await store.apply(KEY, complete, { fp: 'f1', owner: 'a', outcome: VALUE }, await at(20));
      same(await store.apply(KEY, begin, { fp: 'f2', owner: 'b' }, await at(30)), { kind: 'mismatch' }, 'once done');
      same(await store.apply(KEY, begin, { fp: 'f1', owner: 'c' }, 30), { kind: 'done', outcome: VALUE }, 'same fp');
      same(await store.get(KEY, 30), { s: 'done', fp: 'f1', owner: 'a', outcome: VALUE }, 'record after mismatches');
    },
  },
  {
    name: 'idempotency: the lock of an owner that died expires and another caller takes the key',
    async run(makeStore) {
      const { store, at } = await timelineOn(makeStore);
      same(await store.apply(KEY, begin, { fp: 'f1', owner: 'a' }, await at(0)), { kind: 'acquired' }, 'a claims');
      same(
        await store.apply(KEY, begin, { fp: 'f1', owner: 'b' }, await at(999)),
        { kind: 'in_flight', waitMs: 1 },
        'b just before the lock expires (a read does not extend it)',
      );
      same(await store.get(KEY, await at(1_000)), undefined, 'in-flight record at its lock timeout');
      same(await store.apply(KEY, begin, { fp: 'f1', owner: 'b' }, 1_000), { kind: 'acquired' }, 'b takes over');
      same(await store.get(KEY, 1_000), { s: 'in_flight', fp: 'f1', owner: 'b', until: 2_000 }, 'b holds it');
      const late = { fp: 'f1', owner: 'a', outcome: VALUE };
      same(await store.apply(KEY, complete, late, await at(1_200)), false, 'a completes after losing its lock');
      same(await store.get(KEY, 1_200), { s: 'in_flight', fp: 'f1', owner: 'b', until: 2_000 }, 'b still holds it');
      same(await store.apply(KEY, complete, { ...late, owner: 'b' }, await at(1_500)), true, 'b completes');
      const other = 'idem:tenant-1:order-2';
      await store.apply(other, begin, { fp: null, owner: 'e' }, 1_500);
      same(
        await store.apply(other, complete, { fp: null, owner: 'e', outcome: VALUE }, await at(3_000)),
        true,
        'completing a key whose lock expired unclaimed still records the outcome',
      );
      same(
        await store.apply(other, begin, { fp: null, owner: 'f' }, 3_000),
        { kind: 'done', outcome: VALUE },
        'replay',
      );
    },
  },
  {
    name: 'idempotency: an in-flight record without its lock time (damaged, or written by something else) is claimed',
    async run(makeStore) {
      const { store, at } = await timelineOn(makeStore);
      await store.set(KEY, { s: 'in_flight', fp: 'f1', owner: 'x' }, 60_000, await at(0));
      same(await store.apply(KEY, begin, { fp: 'f1', owner: 'a' }, await at(10)), { kind: 'acquired' }, 'a claims');
      same(await store.get(KEY, 10), { s: 'in_flight', fp: 'f1', owner: 'a', until: 1_010 }, 'a holds it');
    },
  },
  {
    name: 'idempotency: release frees the key for its owner only; recorded errors replay',
    async run(makeStore) {
      const { store, at } = await timelineOn(makeStore);
      await store.apply(KEY, begin, { fp: 'f1', owner: 'a' }, await at(0));
      same(await store.apply(KEY, releaseTransition, { owner: 'b' }, await at(10)), false, 'release by a non-owner');
      same(await store.get(KEY, 10), { s: 'in_flight', fp: 'f1', owner: 'a', until: 1_000 }, 'record kept');
      same(await store.apply(KEY, releaseTransition, { owner: 'a' }, 10), true, 'release by the owner');
      same(await store.get(KEY, 10), undefined, 'record after release');
      same(await store.apply(KEY, begin, { fp: 'f1', owner: 'b' }, await at(20)), { kind: 'acquired' }, 'b claims');
      same(await store.apply(KEY, complete, { fp: 'f1', owner: 'b', outcome: ERROR }, await at(30)), true, 'error');
      same(
        await store.apply(KEY, begin, { fp: 'f1', owner: 'c' }, await at(40)),
        { kind: 'done', outcome: ERROR },
        'c',
      );
      same(await store.apply(KEY, releaseTransition, { owner: 'b' }, 40), false, 'a done record is not released');
      same(
        await store.get(KEY, 40),
        { s: 'done', fp: 'f1', owner: 'b', outcome: ERROR },
        'record after a refused release',
      );
    },
  },
  {
    name: 'idempotency: of 100 concurrent claims of one key exactly one acquires it',
    async run(makeStore) {
      const { store } = await timelineOn(makeStore);
      const outputs = await Promise.all(
        Array.from({ length: 100 }, (_, i) => store.apply(KEY, begin, { fp: 'f1', owner: `o${i}` }, 0)),
      );
      const winners = outputs.flatMap((o, i) => (o.kind === 'acquired' ? [`o${i}`] : []));
      same(winners.length, 1, 'callers that acquired the key');
      same(
        outputs.filter((o) => o.kind === 'in_flight' && o.waitMs === LOCK_MS).length,
        99,
        'callers told it is in flight',
      );
      same(await store.get(KEY, 0), { s: 'in_flight', fp: 'f1', owner: winners[0], until: LOCK_MS }, 'record');
    },
  },
];
