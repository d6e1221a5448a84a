import type { Clock, Random } from '../clock/clock.js';
import { classify } from '../errors/classify.js';
import { isOwnRejection } from '../errors/errors.js';
import { OptionsValidator } from '../errors/validate.js';
import type { Backoff } from '../retry/backoff.js';
import type { Store } from '../store/store.js';
import { isStore } from '../store/store.js';
import type { BreakerRegistry } from './registry.js';
import { type BreakerStrategy, type BreakerWindowSnapshot, consecutive, countWindow } from './strategy.js';

/** The states of a breaker. `isolated` is only entered and left by hand. */
export type BreakerStateName = 'closed' | 'open' | 'half-open' | 'isolated';

/**
 * The JSON state of a breaker, from `breaker.snapshot()`; pass it back as
 * `circuitBreaker({ initialState })` to restore a breaker that makes the same decisions.
 * A breaker restored from it starts with no probes in flight: every probe slot is free.
 */
export interface BreakerSnapshot {
  readonly version: 1;
  readonly state: BreakerStateName;
  /** Bumped on every change of state; a probe settling under an older round is ignored. */
  readonly round: number;
  /** While open: when (clock ms) the next probe is admitted. */
  readonly nextProbeAt: number;
  /** Openings since the breaker last closed (drives a growing `halfOpenAfter` backoff). */
  readonly openings: number;
  /** The last `halfOpenAfter` delay used, in ms (the backoff's `previousMs`). */
  readonly lastDelayMs: number;
  /** While half-open: when the latest probe was admitted, and probes that succeeded. */
  readonly lastProbeAt: number;
  readonly probeSuccesses: number;
  /** Probes in flight when the snapshot was taken (used by `breakerTransition`; a restored breaker starts with none). */
  readonly probes: number;
  readonly window: BreakerWindowSnapshot;
}

export interface CircuitBreakerOptions {
  /** When a closed breaker opens. @default consecutive(5) */
  strategy?: BreakerStrategy;
  /**
   * How long the breaker stays open before admitting probes: ms, or a `Backoff` whose
   * delay grows with each opening since the breaker last closed (1 = the first opening).
   * It also bounds a probe: when every probe slot has been taken for this long without the
   * breaker closing, the probe round counts as failed and the breaker opens again.
   * @default 30_000
   */
  halfOpenAfter?: number | Backoff;
  /**
   * Probes admitted at once while half-open; further calls are rejected at once, never
   * queued. The breaker closes after this many probes succeed; any probe failure re-opens it.
   * @default 1
   */
  halfOpenMaxCalls?: number;
  /**
   * Which errors count as failures of the dependency. Errors it rejects count as successes
   * (the dependency answered), except the toolkit's own rejections and cancellations, which
   * count as nothing. An error while the caller's signal is aborted never counts.
   * @default every error except own rejections (`isOwnRejection`) and cancellations
   */
  handle?: (error: unknown) => boolean;
  /** Name stamped on events and shown by the registry. @default 'circuit-breaker' */
  name?: string;
  clock?: Clock;
  /** Random source for a jittered `halfOpenAfter` backoff. */
  random?: Random;
  /** A snapshot to start from (see {@link BreakerSnapshot}). */
  initialState?: BreakerSnapshot;
  /** Where the breaker is listed; `false` lists it nowhere. @default breakerRegistry */
  registry?: BreakerRegistry | false;
  /**
   * Keeps the state in a `Store` under `key`, shared by every breaker with the same store and
   * key (across processes with a shared store); `circuitBreaker` then returns a
   * `SharedCircuitBreaker`. Memory: one state per key, in the store.
   */
  store?: Store;
  /** A shared breaker's key in the store's breaker namespace (store key `breaker|<key>`). @default name */
  key?: string;
}

/** The default `handle`: every error except the toolkit's own rejections and cancellations. */
export const countsAsFailure = (error: unknown): boolean => !isOwnRejection(error) && classify(error) !== 'cancelled';

export const BREAKER_DEFAULTS = {
  strategy: consecutive(5),
  halfOpenAfterMs: 30_000,
  halfOpenMaxCalls: 1,
  name: 'circuit-breaker',
} as const;

/**
 * Starting points, as option objects: `circuitBreaker({ ...breakerPresets.llm, name: 'openai' })`.
 * - `httpProvider`: opens when 5 of the last 10 calls failed (50 %), stays open 30 s.
 * - `llm`: opens after 3 failures in a row, stays open 60 s.
 */
export const breakerPresets = Object.freeze({
  httpProvider: Object.freeze({
    strategy: countWindow({ size: 10, failureRate: 0.5, minimumCalls: 10 }),
    halfOpenAfter: 30_000,
  }) satisfies CircuitBreakerOptions,
  llm: Object.freeze({ strategy: consecutive(3), halfOpenAfter: 60_000 }) satisfies CircuitBreakerOptions,
});

export interface ResolvedBreakerOptions {
  strategy: BreakerStrategy;
  halfOpenAfter: Backoff;
  halfOpenMaxCalls: number;
  handle: (error: unknown) => boolean;
  name: string;
}

/** A numeric `halfOpenAfter` as a `Backoff`: one small object per breaker, no closure. */
class FixedDelay implements Backoff {
  readonly maxMs: number;
  constructor(ms: number) {
    this.maxMs = ms;
  }
  delay(): number {
    return this.maxMs;
  }
}

const STATES: readonly BreakerStateName[] = ['closed', 'open', 'half-open', 'isolated'];
const isBackoff = (v: unknown): boolean =>
  typeof v === 'object' && v !== null && typeof (v as Backoff).delay === 'function';
const isStrategy = (v: unknown): boolean =>
  typeof v === 'object' && v !== null && typeof (v as BreakerStrategy).createWindow === 'function';

export function resolveBreakerOptions(options: CircuitBreakerOptions): ResolvedBreakerOptions {
  const v = new OptionsValidator('circuitBreaker');
  v.check(options.strategy === undefined || isStrategy(options.strategy), 'strategy', options.strategy, 'a strategy');
  const after = options.halfOpenAfter;
  if (typeof after === 'number' || after === undefined) v.number('halfOpenAfter', after, { min: 0 });
  else v.check(isBackoff(after), 'halfOpenAfter', after, 'milliseconds (>= 0) or a Backoff');
  v.integer('halfOpenMaxCalls', options.halfOpenMaxCalls, { min: 1 });
  v.function('handle', options.handle);
  v.string('name', options.name);
  v.function('random', options.random);
  v.clock('clock', options.clock);
  const registry = options.registry as { add?: unknown } | false | undefined;
  v.check(
    registry === undefined || registry === false || typeof registry?.add === 'function',
    'registry',
    options.registry,
    'a BreakerRegistry or false',
  );
  v.check(options.store === undefined || isStore(options.store), 'store', options.store, 'a Store');
  v.string('key', options.key);
  v.check(options.key === undefined || options.store !== undefined, 'key', options.key, 'no value unless store is set');
  v.check(
    options.store === undefined || options.initialState === undefined,
    'initialState',
    options.initialState,
    'no value with a store (the store holds the state)',
  );
  const s = options.initialState;
  if (s !== undefined) {
    const ok =
      typeof s === 'object' &&
      s !== null &&
      s.version === 1 &&
      STATES.includes(s.state) &&
      [s.nextProbeAt, s.lastDelayMs, s.lastProbeAt].every(Number.isFinite) &&
      Number.isSafeInteger(s.openings) &&
      Number.isSafeInteger(s.probeSuccesses) &&
      Number.isSafeInteger(s.round) &&
      Number.isSafeInteger(s.probes) &&
      typeof s.window === 'object' &&
      s.window !== null;
    v.check(ok, 'initialState', s, 'a snapshot from breaker.snapshot()');
  }
  v.done();
  return {
    strategy: options.strategy ?? BREAKER_DEFAULTS.strategy,
    halfOpenAfter: typeof after === 'object' ? after : new FixedDelay(after ?? BREAKER_DEFAULTS.halfOpenAfterMs),
    halfOpenMaxCalls: options.halfOpenMaxCalls ?? BREAKER_DEFAULTS.halfOpenMaxCalls,
    handle: options.handle ?? countsAsFailure,
    name: options.name ?? BREAKER_DEFAULTS.name,
  };
}
