import type { JsonValue, Transition } from '../store/store.js';
import { type Admission, BreakerMachine, type CallOutcome } from './machine.js';
import {
  type BreakerSnapshot,
  type BreakerStateName,
  type CircuitBreakerOptions,
  type ResolvedBreakerOptions,
  resolveBreakerOptions,
} from './options.js';

/** One step of a breaker kept in a store. `random` (in `[0, 1)`) feeds a jittered backoff. @default 0.5 */
export type BreakerInput = (
  | { readonly type: 'acquire' }
  | {
      readonly type: 'settle';
      readonly outcome: CallOutcome;
      /** The `round` that `acquire` returned for a probe; omit for a call admitted while closed. */
      readonly probeRound?: number;
      /**
       * The `round` `acquire` returned for a call admitted while closed: its outcome is dropped if
       * the state changed since.
       */
      readonly round?: number;
      /** Whether the call was slow (for windows with `slowCallMs`). */
      readonly slow?: boolean;
    }
  | { readonly type: 'isolate' }
  | { readonly type: 'release' }
  | { readonly type: 'reset' }
) & { readonly random?: number };

/** What a step decided. */
export interface BreakerDecision {
  /** For `acquire`: run the call, run it as a probe (settle it with `probeRound: round`), or reject it. */
  readonly admission: Admission | undefined;
  readonly state: BreakerStateName;
  readonly round: number;
  /**
   * Ms until a probe could be admitted: 0 when calls pass; `null` while isolated, when no
   * probe is due until the isolation is released (JSON has no `Infinity`).
   */
  readonly retryAfterMs: number | null;
}

/**
 * The breaker as a store transition: `(snapshot | undefined, input, now) → { snapshot,
 * decision }`, for breakers whose state is shared through a `Store` (many processes, one
 * breaker). It runs the same state machine and windows as `circuitBreaker` on a copy of the
 * snapshot, never reading the clock or randomness itself, so a breaker stepped through it
 * decides exactly as an in-process one fed the same outcomes at the same times. A Redis
 * store keys its script on `name` and `params`; `params` carry a numeric `halfOpenAfter`
 * only (a `Backoff` is a function and shows as `"backoff"`).
 *
 * @example
 * const t = breakerTransition({ strategy: consecutive(5), halfOpenAfter: 30_000 });
 * const { admission, round } = await store.apply('breaker:payments', t, { type: 'acquire' }, now);
 */
/** The machine of a stored breaker state (`undefined`: a fresh breaker), stepping on a copy. */
export function restoreMachine(
  config: ResolvedBreakerOptions,
  state: BreakerSnapshot | undefined,
  random: number,
): BreakerMachine {
  // A window of another strategy (a deploy changed the breaker's) starts empty; the state stays.
  let window: ReturnType<typeof config.strategy.createWindow>;
  try {
    window = config.strategy.createWindow(state?.window);
  } catch {
    window = config.strategy.createWindow();
  }
  const m = new BreakerMachine(config, window, () => random, state);
  if (state) m.probes = state.probes;
  return m;
}

/** Transition params: the strategy's and a numeric `halfOpenAfter` (a `Backoff` shows as `"backoff"`). */
export function breakerParams(
  options: Pick<CircuitBreakerOptions, 'halfOpenAfter'>,
  config: ResolvedBreakerOptions,
): JsonValue {
  const halfOpenAfter = typeof options.halfOpenAfter === 'object' ? 'backoff' : config.halfOpenAfter.maxMs;
  return { strategy: config.strategy.params, halfOpenAfter, halfOpenMaxCalls: config.halfOpenMaxCalls };
}

export function breakerTransition(
  options: Pick<CircuitBreakerOptions, 'strategy' | 'halfOpenAfter' | 'halfOpenMaxCalls'> = {},
): Transition<BreakerSnapshot, BreakerInput, BreakerDecision> {
  const config = resolveBreakerOptions(options);
  return Object.freeze({
    name: `breaker.${config.strategy.kind}`,
    params: breakerParams(options, config),
    apply(state: BreakerSnapshot | undefined, input: BreakerInput, now: number) {
      const m = restoreMachine(config, state, input.random ?? 0.5);
      let admission: Admission | undefined;
      switch (input.type) {
        case 'acquire':
          admission = m.admit(now);
          break;
        case 'settle':
          if (input.probeRound === undefined) m.recordClosed(input.outcome, input.slow === true, now, input.round);
          else m.settleProbe(input.probeRound, input.outcome, now);
          break;
        case 'isolate':
          m.isolate();
          break;
        case 'release':
          m.release();
          break;
        case 'reset':
          m.reset();
          break;
      }
      const retryAfterMs = m.state === 'isolated' ? null : m.retryAfter(now);
      const output: BreakerDecision = { admission, state: m.state, round: m.round, retryAfterMs };
      return { state: m.snapshot(), output, ttlMs: Number.POSITIVE_INFINITY };
    },
  });
}
