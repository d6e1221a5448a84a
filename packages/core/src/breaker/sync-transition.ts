import type { Transition } from '../store/store.js';
import {
  type BreakerSnapshot,
  type BreakerStateName,
  type CircuitBreakerOptions,
  resolveBreakerOptions,
} from './options.js';
import type { BreakerWindowSnapshot } from './strategy.js';
import type { BreakerTally } from './tally.js';
import { breakerParams, restoreMachine } from './transition.js';

/** One synchronisation of a synchronised breaker: its tally, and the round it was counted in. */
export interface BreakerSyncInput {
  /** The outcomes counted since the last synchronisation; `null` only reads the shared state. */
  readonly tally: BreakerTally | null;
  /**
   * The round the tally was counted in: it is merged only while the breaker is closed in that
   * round (outcomes of an earlier round are stale). Omitted: merged whenever it is closed.
   */
  readonly round?: number;
  /** In `[0, 1)`, for a jittered backoff when the tally opens the breaker. @default 0.5 */
  readonly random?: number;
}

/** The shared state after a synchronisation: what an instance's local view starts from again. */
export interface BreakerSyncOutput {
  readonly state: BreakerStateName;
  readonly round: number;
  /** As `BreakerDecision.retryAfterMs`: ms until a probe could be admitted, `null` while isolated. */
  readonly retryAfterMs: number | null;
  /** The shared window after the merge. */
  readonly window: BreakerWindowSnapshot;
  /** The `now` the step ran at: the store's clock when it keeps its own (Redis `time: 'server'`). */
  readonly now: number;
  /** Whether this step changed the state (its tally opened the breaker). */
  readonly changed: boolean;
}

/**
 * A shared breaker's synchronisation (`breaker.<strategy>.sync`): merges a local tally into
 * the shared window and reads back the shared state.
 */
export function breakerSyncTransition(
  options: Pick<CircuitBreakerOptions, 'strategy' | 'halfOpenAfter' | 'halfOpenMaxCalls'> = {},
): Transition<BreakerSnapshot, BreakerSyncInput, BreakerSyncOutput> {
  const config = resolveBreakerOptions(options);
  return Object.freeze({
    name: `breaker.${config.strategy.kind}.sync`,
    params: breakerParams(options, config),
    apply(state: BreakerSnapshot | undefined, input: BreakerSyncInput, now: number) {
      const m = restoreMachine(config, state, input.random ?? 0.5);
      const { round, nextProbeAt } = m;
      const merged =
        input.tally !== null && m.state === 'closed' && (input.round === undefined || input.round === round);
      if (merged && m.window.merge(input.tally!, now)) m.open(now);
      const output: BreakerSyncOutput = {
        state: m.state,
        round: m.round,
        retryAfterMs: m.state === 'isolated' ? null : m.retryAfter(now),
        window: m.window.snapshot(),
        now,
        changed: m.round !== round,
      };
      // A probe time moved by a clock that stepped back is written, so the next read agrees.
      return {
        state: m.snapshot(),
        output,
        ttlMs: Number.POSITIVE_INFINITY,
        write: merged || m.nextProbeAt !== nextProbeAt,
      };
    },
  });
}
