/**
 * Scenarios for a circuit breaker shared through a store (`breakerTransition`, names
 * `breaker.<strategy>`), driven through the Store interface only.
 */
import { type ConsecutiveSnapshot, consecutive, countWindow } from '../breaker/strategy.js';
import { type BreakerSyncInput, breakerSyncTransition } from '../breaker/sync-transition.js';
import type { BreakerTally } from '../breaker/tally.js';
import { timeWindow } from '../breaker/time-window.js';
import { breakerTransition } from '../breaker/transition.js';
import { type StoreScenario, same, timelineOn } from './conformance-kit.js';

const KEY = 'breaker:payments';

/** A tally of `failures` and `successes` (none slow), `trailing` failures after the last success. */
const tally = (successes: number, failures: number, runs: Partial<BreakerTally> = {}): BreakerTally => ({
  successes,
  slowSuccesses: 0,
  failures,
  slowFailures: 0,
  leading: successes === 0 ? failures : 0,
  longestRun: successes === 0 ? failures : 0,
  trailing: successes === 0 ? failures : 0,
  ...runs,
});

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
  {
    name: 'breaker: isolation holds until every isolation is released; reset ends them all',
    async run(makeStore) {
      const { store, at } = await timelineOn(makeStore);
      const t = breakerTransition({ strategy: consecutive(2), halfOpenAfter: 1_000 });
      const step = async (type: 'acquire' | 'isolate' | 'release' | 'reset', t0: number) =>
        store.apply(KEY, t, { type }, await at(t0));
      // While isolated no probe is ever due: `retryAfterMs` is null (JSON has no Infinity).
      const isolated = { state: 'isolated', round: 1, retryAfterMs: null };
      same(await step('isolate', 0), isolated, 'the first isolation');
      same(await step('isolate', 1), isolated, 'a second isolation (another instance)');
      same(await step('acquire', 2), { admission: 'reject', ...isolated }, 'a call while isolated');
      same(await step('release', 3), isolated, 'one of two isolations released');
      same(await step('acquire', 5_000), { admission: 'reject', ...isolated }, 'a call long after, still isolated');
      same(await step('release', 5_001), { state: 'closed', round: 2, retryAfterMs: 0 }, 'the last isolation released');
      same((await step('acquire', 5_002)).admission, 'call', 'a call once released');
      await step('isolate', 5_003);
      await step('isolate', 5_004);
      same((await step('reset', 5_005)).state, 'closed', 'reset ends both isolations');
      same((await step('release', 5_006)).state, 'closed', 'a release after reset changes nothing');
      same((await step('isolate', 5_007)).state, 'isolated', 'isolating again');
      same((await step('release', 5_008)).state, 'closed', 'one release ends one isolation');
    },
  },
  {
    name: 'breaker: a late outcome counts only in the round that admitted the call',
    async run(makeStore) {
      const { store, at } = await timelineOn(makeStore);
      const t = breakerTransition({ strategy: consecutive(2), halfOpenAfter: 1_000 });
      const late = await store.apply(KEY, t, { type: 'acquire' }, await at(0));
      const failure = { type: 'settle', outcome: 'failure', round: 0 } as const;
      await store.apply(KEY, t, failure, await at(1));
      same((await store.apply(KEY, t, failure, await at(2))).state, 'open', 'two failures of round 0');
      const probe = await store.apply(KEY, t, { type: 'acquire' }, await at(1_002));
      const success = { type: 'settle', outcome: 'success', probeRound: probe.round } as const;
      const closed = await store.apply(KEY, t, success, await at(1_003));
      same(closed.state, 'closed', 'the probe succeeded');
      const stale = { type: 'settle', outcome: 'failure', round: late.round } as const;
      same((await store.apply(KEY, t, stale, await at(1_004))).state, 'closed', 'a failure of round 0, settled late');
      const fresh = { type: 'settle', outcome: 'failure', round: closed.round } as const;
      same((await store.apply(KEY, t, fresh, await at(1_005))).state, 'closed', 'one fresh failure');
      same((await store.apply(KEY, t, fresh, await at(1_006))).state, 'open', 'two fresh failures');
    },
  },
  {
    name: 'breaker sync: tallies of several instances merge into one consecutive window; the one that trips it opens it',
    async run(makeStore) {
      const { store, at } = await timelineOn(makeStore);
      const sync = breakerSyncTransition({ strategy: consecutive(3), halfOpenAfter: 1_000 });
      const step = breakerTransition({ strategy: consecutive(3), halfOpenAfter: 1_000 });
      same(
        await store.apply(KEY, sync, { tally: null }, await at(0)),
        {
          state: 'closed',
          round: 0,
          retryAfterMs: 0,
          window: { kind: 'consecutive', failures: 0 },
          now: 0,
          changed: false,
        },
        'a read of a breaker never used',
      );
      const failures = (input: BreakerSyncInput, now: number) =>
        store.apply(KEY, sync, input, now).then((out) => (out.window as ConsecutiveSnapshot).failures);
      same(await failures({ tally: tally(0, 1), round: 0 }, await at(5)), 1, 'one');
      same(await failures({ tally: tally(0, 1), round: 9 }, 5), 1, 'a stale round');
      same(
        await failures({ tally: tally(1, 3, { longestRun: 2, trailing: 1 }) }, 5),
        1,
        'a success in the batch: its trailing failures remain',
      );
      same(
        await store.apply(KEY, sync, { tally: tally(0, 2), round: 0 }, await at(10)),
        {
          state: 'open',
          round: 1,
          retryAfterMs: 1_000,
          window: { kind: 'consecutive', failures: 0 },
          now: 10,
          changed: true,
        },
        'the merge that trips it opens it',
      );
      same(
        (await store.apply(KEY, sync, { tally: tally(0, 5) }, await at(20))).state,
        'open',
        'merges nothing while open',
      );
      same((await store.apply(KEY, step, { type: 'acquire' }, await at(1_010))).admission, 'probe', 'one probe');
      same(
        await store.apply(KEY, sync, { tally: null }, await at(1_020)),
        {
          state: 'half-open',
          round: 2,
          retryAfterMs: 990,
          window: { kind: 'consecutive', failures: 0 },
          now: 1_020,
          changed: false,
        },
        'a read while the probe runs',
      );
    },
  },
  {
    name: 'breaker sync: a count window and a time window merged from tallies, slow calls included',
    async run(makeStore) {
      const { store, at } = await timelineOn(makeStore);
      const counts = breakerSyncTransition({
        strategy: countWindow({ size: 4, failureRate: 0.5, minimumCalls: 4, slowCallMs: 100, slowCallRate: 0.75 }),
        halfOpenAfter: 500,
      });
      const ring = await store.apply(KEY, counts, { tally: tally(2, 0, { slowSuccesses: 1 }) }, await at(0));
      same(ring.window, { kind: 'count-window', size: 4, next: 3, filled: 3, bits: [0, 4] }, 'ok ok slow-ok');
      const opened = await store.apply(KEY, counts, { tally: tally(0, 1, { slowFailures: 1, trailing: 2 }) }, 0);
      same([opened.state, opened.changed, opened.retryAfterMs], ['open', true, 500], '2 of 4 failed');
      const times = breakerSyncTransition({
        strategy: timeWindow({ windowMs: 1_000, buckets: 4, failureRate: 0.5, minimumCalls: 4 }),
        halfOpenAfter: 500,
      });
      const other = `${KEY}:time`;
      const first = await store.apply(other, times, { tally: tally(2, 1, { trailing: 1 }) }, await at(600));
      same(
        first.window,
        {
          kind: 'time-window',
          buckets: 4,
          bucketMs: 250,
          epochs: [-1, -1, 2, -1],
          counts: [0, 0, 0, 0, 0, 0, 3, 1, 0, 0, 0, 0],
        },
        'in the bucket of now',
      );
      same((await store.apply(other, times, { tally: tally(0, 1) }, await at(700))).state, 'open', '2 of 4 failed');
    },
  },
];
