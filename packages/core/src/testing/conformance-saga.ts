/**
 * Scenarios for the durable saga log (`saga.log`, its `touch` lease renewal, `saga.claim`) and for `keys(prefix)`,
 * which `recover()` uses to find abandoned logs — driven through the Store interface
 * only, exactly as `saga()` calls them.
 */
import { type LoggedStepState, type SagaLogInput, sagaClaimTransition, sagaLogTransition } from '../saga/log.js';
import type { JsonValue } from '../store/store.js';
import { type StoreScenario, same, timelineOn } from './conformance-kit.js';

const TTL_MS = 10_000;
const log = sagaLogTransition(TTL_MS);
const claim = sagaClaimTransition(TTL_MS);
const KEY = 'saga:order:s-1';
const INPUT = { orderId: 'o-1', amount: 5 };

const start = (owner: string, id = 's-1'): SagaLogInput => ({ op: 'start', id, input: INPUT, owner });
const step = (owner: string, index: number, name: string, s: LoggedStepState, r?: JsonValue): SagaLogInput =>
  r === undefined ? { op: 'step', index, name, s, owner } : { op: 'step', index, name, s, r, owner };
const logState = (fields: Record<string, unknown>) => ({
  v: 1,
  id: 's-1',
  phase: 'running',
  input: INPUT,
  steps: [],
  startedAt: 0,
  owner: 'p1',
  ...fields,
});

export const sagaScenarios: readonly StoreScenario[] = [
  {
    name: 'saga log: written before and after each step, read back, only by its owner; finish deletes it',
    async run(makeStore) {
      const { store, at } = await timelineOn(makeStore);
      same(await store.apply(KEY, log, start('p1'), await at(0)), true, 'start');
      same(await store.get(KEY, 0), logState({ at: 0 }), 'log after start');
      same(await store.apply(KEY, log, step('p1', 0, 'reserve', 'started'), await at(10)), true, 'reserve started');
      same(await store.apply(KEY, log, step('p1', 0, 'reserve', 'completed', { slot: 4 }), await at(20)), true, 'done');
      same(await store.apply(KEY, log, step('p1', 1, 'charge', 'started'), await at(30)), true, 'charge started');
      const running = logState({
        at: 30,
        steps: [
          { name: 'reserve', s: 'completed', r: { slot: 4 } },
          { name: 'charge', s: 'started' },
        ],
      });
      same(await store.get(KEY, 30), running, 'log mid-way');
      same(await store.apply(KEY, log, step('p2', 1, 'charge', 'failed'), await at(40)), false, 'write by a stranger');
      same(await store.get(KEY, 40), running, 'log after a refused write');
      same(
        await store.apply(KEY, log, { op: 'phase', phase: 'compensating', owner: 'p1' }, await at(50)),
        true,
        'phase',
      );
      await store.apply(KEY, log, step('p1', 1, 'charge', 'failed'), await at(60));
      await store.apply(KEY, log, step('p1', 0, 'reserve', 'compensating'), 60);
      await store.apply(KEY, log, step('p1', 0, 'reserve', 'compensated'), await at(70));
      same(
        await store.get(KEY, 70),
        logState({
          phase: 'compensating',
          at: 70,
          steps: [
            { name: 'reserve', s: 'compensated', r: { slot: 4 } },
            { name: 'charge', s: 'failed' },
          ],
        }),
        'log while compensating (a compensated step keeps its result)',
      );
      same(await store.apply(KEY, log, { op: 'finish', owner: 'p2' }, await at(80)), false, 'finish by a stranger');
      same(await store.apply(KEY, log, { op: 'finish', owner: 'p1' }, 80), true, 'finish');
      same(await store.get(KEY, 80), undefined, 'log after finish');
      same(await store.apply(KEY, log, step('p1', 2, 'ship', 'started'), 80), false, 'a write after finish');
      same(await store.get(KEY, 80), undefined, 'a write after finish creates nothing');
      const other = 'saga:order:s-2';
      await store.apply(other, log, start('p1', 's-2'), await at(100));
      await store.apply(other, log, step('p1', 0, 'reserve', 'started'), await at(200));
      same(
        (await store.get<{ at: number }>(other, await at(10_199)))?.at,
        200,
        'log before its TTL (from the last write)',
      );
      same(await store.get(other, await at(10_200)), undefined, 'log at its TTL');
    },
  },
  {
    name: 'saga claim: a stale log is taken over once, its old owner is shut out, a failed log is left alone',
    async run(makeStore) {
      const { store, at } = await timelineOn(makeStore);
      await store.apply(KEY, log, start('p1'), await at(0));
      await store.apply(KEY, log, step('p1', 0, 'reserve', 'started'), await at(100));
      same(await store.apply(KEY, claim, { owner: 'r0', staleBefore: 50 }, await at(550)), undefined, 'not stale yet');
      same((await store.get<{ owner: string }>(KEY, 550))?.owner, 'p1', 'owner after a refused claim');
      const claims = await Promise.all(
        ['r1', 'r2'].map((owner) => store.apply(KEY, claim, { owner, staleBefore: 100 }, 600)),
      );
      const taken = claims.filter((c) => c !== undefined);
      same(taken.length, 1, 'concurrent recoveries that took the log');
      const winner = taken[0]?.owner ?? 'none';
      const claimed = logState({
        phase: 'compensating',
        owner: winner,
        at: 600,
        steps: [{ name: 'reserve', s: 'started' }],
      });
      same(taken[0], claimed, 'the claimed log');
      same(await store.get(KEY, await at(600)), claimed, 'the stored log');
      same(await store.apply(KEY, log, step('p1', 0, 'reserve', 'completed'), await at(610)), false, 'old owner');
      same(await store.apply(KEY, log, step(winner, 0, 'reserve', 'compensated'), await at(620)), true, 'new owner');
      same(await store.apply(KEY, log, { op: 'phase', phase: 'failed', owner: winner }, await at(630)), true, 'failed');
      same(
        await store.apply(KEY, claim, { owner: 'r3', staleBefore: 4_900 }, await at(5_000)),
        undefined,
        'failed log',
      );
      same((await store.get<{ phase: string }>(KEY, await at(10_629)))?.phase, 'failed', 'failed log before its TTL');
      same(await store.get(KEY, await at(10_630)), undefined, 'failed log at its TTL (from its last write)');
      same(await store.apply(KEY, claim, { owner: 'r3', staleBefore: 10_630 }, 10_630), undefined, 'claim of nothing');
      same(await store.get(KEY, 10_630), undefined, 'a claim of nothing creates nothing');
    },
  },
  {
    name: 'saga lease: touch renews the owner lease (at and TTL) so no claim takes a live log; others cannot touch',
    async run(makeStore) {
      const { store, at } = await timelineOn(makeStore);
      await store.apply(KEY, log, start('p1'), await at(0));
      await store.apply(KEY, log, step('p1', 0, 'reserve', 'started'), await at(10));
      same(await store.apply(KEY, log, { op: 'touch', owner: 'p1' }, await at(400)), true, 'the owner touches');
      const touched = logState({ at: 400, steps: [{ name: 'reserve', s: 'started' }] });
      same(await store.get(KEY, 400), touched, 'only at changes');
      same(await store.apply(KEY, claim, { owner: 'r1', staleBefore: 399 }, await at(899)), undefined, 'renewed');
      same(await store.apply(KEY, log, { op: 'touch', owner: 'r1' }, 899), false, 'a stranger touches');
      same(await store.get(KEY, 899), touched, 'log after a refused touch');
      same(await store.get(KEY, await at(10_399)), touched, 'log before the TTL from the touch');
      const taken = await store.apply(KEY, claim, { owner: 'r1', staleBefore: 400 }, 10_399);
      same(taken?.owner, 'r1', 'claimed once the lease is stale');
      same(await store.apply(KEY, log, { op: 'touch', owner: 'p1' }, await at(10_400)), false, 'the old owner touches');
      same(await store.apply(KEY, log, { op: 'touch', owner: 'r1' }, await at(10_500)), true, 'the recovery renews');
      same((await store.get<{ at: number }>(KEY, 10_500))?.at, 10_500, 'its lease');
      same(await store.apply(KEY, log, { op: 'finish', owner: 'r1' }, 10_500), true, 'finish');
      same(await store.apply(KEY, log, { op: 'touch', owner: 'r1' }, 10_500), false, 'a touch after finish');
      same(await store.get(KEY, 10_500), undefined, 'a touch after finish creates nothing');
    },
  },
  {
    name: 'saga claim: a value under the prefix that is not a saga log (v: 1) is never claimed',
    async run(makeStore) {
      const { store, at } = await timelineOn(makeStore);
      const other = { hits: 3, at: 0, phase: 'running' };
      await store.set('saga:order:x', other, Number.POSITIVE_INFINITY, await at(0));
      same(
        await store.apply('saga:order:x', claim, { owner: 'r1', staleBefore: 100 }, await at(100)),
        undefined,
        'claim',
      );
      same(await store.get('saga:order:x', 100), other, 'the value is unchanged');
    },
  },
  {
    name: 'keys(prefix): lists live keys with the prefix, exactly up to the limit, skipping expired ones',
    async run(makeStore) {
      const { store, at } = await timelineOn(makeStore);
      const live = ['saga:order:1', 'saga:order:2', 'saga:order:3', 'saga:order:4'];
      // Only the four live logs are pinned (a store of 8 keys pins 4); the others are plain keys.
      await store.set('saga:order:0', INPUT, 500, 0); // first, so a scan meets it first
      for (const key of live) await store.apply(key, log, start('p1', key), 0);
      await store.set('saga:orders:1', INPUT, TTL_MS, 0);
      await store.set('idem:saga:order:1', { s: 'done' }, Number.POSITIVE_INFINITY, 0);
      const list = async (prefix: string, now: number, limit?: number) =>
        (await store.keys(prefix, now, limit === undefined ? undefined : { limit })).sort();
      const now = await at(10);
      same(await list('saga:order:', now), ['saga:order:0', ...live], 'keys with the prefix');
      same(await list('saga:', now), ['saga:order:0', ...live, 'saga:orders:1'], 'keys with a shorter prefix');
      same(await list('nothing:', now), [], 'keys with an unused prefix');
      const two = await list('saga:order:', now, 2);
      same(two.length === 2 && two[0] !== two[1] && two.every((k) => k.startsWith('saga:order:')), true, 'limit 2');
      same((await list('saga:order:', now, 5)).length, 5, 'limit equal to the live keys');
      same(await list('saga:order:', await at(500)), live, 'keys once one expired');
      same(await list('saga:order:', 500, 4), live, 'an expired key does not use up the limit');
      await store.apply('saga:order:1', log, { op: 'finish', owner: 'p1' }, 500);
      same(await list('saga:order:', 500), live.slice(1), 'keys after a finish');
      same(await list('saga:', await at(10_000)), [], 'keys once every log expired');
      same(await list('idem:', 10_000), ['idem:saga:order:1'], 'a key without TTL');
    },
  },
];
