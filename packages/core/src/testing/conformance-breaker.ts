/**
 * Scenarios for a circuit breaker shared through a store (`breakerTransition`, names
 * `breaker.<strategy>`), driven through the Store interface only.
 */
import { consecutive, countWindow } from '../breaker/strategy.js';
import { breakerTransition } from '../breaker/transition.js';
import { type StoreScenario, same, timelineOn } from './conformance-kit.js';

const KEY = 'breaker:payments';

export const breakerScenarios: readonly StoreScenario[] = [
  {
    name: 'breaker: opens after consecutive failures, rejects, admits one probe, closes on its success',
    async run(makeStore) {
      const { store, at } = await timelineOn(makeStore);
      const t = breakerTransition({ strategy: consecutive(2), halfOpenAfter: 1_000 });
      const acquire = { type: 'acquire' } as const;
      const failure = { type: 'settle', outcome: 'failure' } as const;
      const closed = { state: 'closed', round: 0, retryAfterMs: 0 };
      same(await store.apply(KEY, t, acquire, await at(0)), { admission: 'call', ...closed }, 'call while closed');
      same(await store.apply(KEY, t, failure, 0), closed, 'first failure');
      same(await store.apply(KEY, t, failure, await at(1)), { state: 'open', round: 1, retryAfterMs: 1_000 }, 'opens');
      same(
        await store.apply(KEY, t, acquire, await at(2)),
        { admission: 'reject', state: 'open', round: 1, retryAfterMs: 999 },
        'rejects while open',
      );
      const probe = await store.apply(KEY, t, acquire, await at(1_001));
      same([probe.admission, probe.state, probe.round], ['probe', 'half-open', 2], 'a probe once half-open');
      same((await store.apply(KEY, t, acquire, 1_001)).admission, 'reject', 'a second call while the probe runs');
      const success = { type: 'settle', outcome: 'success', probeRound: 2 } as const;
      same((await store.apply(KEY, t, success, await at(1_050))).state, 'closed', 'the probe succeeded');
      same(
        await store.apply(KEY, t, acquire, 1_050),
        { admission: 'call', state: 'closed', round: 3, retryAfterMs: 0 },
        'call',
      );
    },
  },
  {
    name: 'breaker: a count window kept in the store; of 10 concurrent acquires when half-open one probes',
    async run(makeStore) {
      const { store, at } = await timelineOn(makeStore);
      const t = breakerTransition({
        strategy: countWindow({ size: 4, failureRate: 0.5, minimumCalls: 4 }),
        halfOpenAfter: 500,
      });
      for (const outcome of ['success', 'failure', 'success'] as const) {
        same((await store.apply(KEY, t, { type: 'settle', outcome }, await at(0))).state, 'closed', outcome);
      }
      same((await store.apply(KEY, t, { type: 'settle', outcome: 'failure' }, 0)).state, 'open', '2 of 4 failed');
      const acquires = await Promise.all(
        Array.from({ length: 10 }, () => store.apply(KEY, t, { type: 'acquire' }, 500)),
      );
      await at(500);
      same(
        acquires.map((d) => d.admission).sort(),
        ['probe', ...Array.from({ length: 9 }, () => 'reject')],
        'admissions of concurrent calls',
      );
    },
  },
];
