/**
 * Scenarios for `Store.supports`: a store that says which transitions it applies (one that
 * runs them as scripts next to its data, such as Redis) applies every transition the
 * toolkit uses, and applies none it says it cannot — it refuses them, so nothing falls back
 * to a read and a write that are not atomic.
 */
import { consecutive, countWindow } from '../breaker/strategy.js';
import { breakerSyncTransition } from '../breaker/sync-transition.js';
import { timeWindow } from '../breaker/time-window.js';
import { breakerTransition } from '../breaker/transition.js';
import { beginTransition, completeTransition, releaseTransition } from '../idempotency/record.js';
import {
  attemptTransition,
  claimTransition,
  deadTransition,
  doneTransition,
  failedTransition,
  releaseTransition as releaseClaim,
} from '../messages/counter.js';
import type { RateLimitAlgorithm } from '../ratelimit/algorithm.js';
import { gcra } from '../ratelimit/gcra.js';
import { tokenBucket } from '../ratelimit/token-bucket.js';
import { fixedWindow, slidingWindow } from '../ratelimit/windows.js';
import { sagaClaimTransition, sagaLogTransition } from '../saga/log.js';
import { storeKey, storeNamespace } from '../store/namespace.js';
import type { Transition } from '../store/store.js';
import { rejects, type StoreScenario, same } from './conformance-kit.js';

// biome-ignore lint/suspicious/noExplicitAny: transitions of every type.
type AnyTransition = Transition<any, any, any>;

/** One transition of every name the toolkit applies to a store. */
function toolkitTransitions(): AnyTransition[] {
  const limits: RateLimitAlgorithm[] = [
    tokenBucket(),
    gcra({ limit: 10, periodMs: 1_000 }),
    fixedWindow({ limit: 10, windowMs: 1_000 }),
    slidingWindow({ limit: 10, windowMs: 1_000 }),
  ];
  const strategies = [
    consecutive(3),
    countWindow({ size: 10, failureRate: 0.5 }),
    timeWindow({ windowMs: 1_000, failureRate: 0.5 }),
  ];
  return [
    ...limits.flatMap((a) => [a.consume, a.peek]),
    ...strategies.map((strategy) => breakerTransition({ strategy, halfOpenAfter: 1_000 })),
    ...strategies.map((strategy) => breakerSyncTransition({ strategy, halfOpenAfter: 1_000 })),
    beginTransition(1_000),
    completeTransition(1_000),
    releaseTransition,
    attemptTransition(1_000),
    failedTransition(1_000),
    claimTransition(1_000, 100),
    releaseClaim(1_000),
    deadTransition(1_000),
    doneTransition(),
    sagaLogTransition(1_000),
    sagaClaimTransition(1_000),
  ];
}

const foreign: Transition<number, null, number> = {
  name: 'conformance.foreign',
  params: null,
  apply: (state) => ({ state: (state ?? 0) + 1, output: (state ?? 0) + 1, ttlMs: 10_000 }),
};

export const supportScenarios: readonly StoreScenario[] = [
  {
    name: 'supports: a store that names what it applies applies every toolkit transition, and refuses the rest',
    async run(makeStore) {
      const store = await makeStore();
      if (typeof store.supports !== 'function') return; // it applies any transition itself
      const lacking = toolkitTransitions().filter((t) => store.supports?.(t.name, t.params) !== true);
      same(
        lacking.map((t) => t.name),
        [],
        'toolkit transitions the store says it cannot apply',
      );
      if (store.supports(foreign.name, foreign.params)) return;
      const key = storeKey(storeNamespace('conformance', 'supports'), 'k');
      await rejects(() => store.apply(key, foreign, null, 0), Error, 'apply of a transition it cannot apply');
      const batch = [{ key, transition: foreign, input: null }];
      await rejects(() => store.applyAll(batch, 0), Error, 'applyAll of a transition it cannot apply');
      same(await store.get(key, 0), undefined, 'state after the refusals');
    },
  },
];
