import type { Clock, Random } from '../clock/clock.js';
import { classify } from '../errors/classify.js';
import { isOwnRejection } from '../errors/errors.js';
import { OPOSSUM } from '../errors/hints.js';
import { type OptionNames, OptionsValidator } from '../errors/validate.js';
import type { Backoff } from '../retry/backoff.js';
import type { Store } from '../store/store.js';
import { isStore } from '../store/store.js';
import type { BreakerRegistry } from './registry.js';
import { type BreakerStrategy, type BreakerWindowSnapshot, consecutive, countWindow } from './strategy.js';

/** The states of a breaker. `isolated` is only entered and left by hand. */
export type BreakerStateName = 'closed' | 'open' | 'half-open' | 'isolated';

/**
 * The JSON state of a breaker, from `breaker.snapshot()`; `circuitBreaker({ initialState })`
 * restores it (no probes in flight).
 */
export interface BreakerSnapshot {
  readonly version: 1;
  readonly state: BreakerStateName;
  /** Bumped on every change of state (by 2^20 when a probe round ran out); a probe settling under an older round is ignored but for a late success (docs/circuit-breaker.md). */
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
  /**
   * Isolations not yet released: the breaker closes when the last one is. Kept in the
   * snapshot so that breakers sharing a store each hold their own. Absent in snapshots of
   * version 0.1, where it reads as 1 while isolated.
   */
  readonly isolations?: number;
  readonly window: BreakerWindowSnapshot;
}

export interface CircuitBreakerOptions {
  /** When a closed breaker opens. @default consecutive(5) */
  strategy?: BreakerStrategy;
  /**
   * How long the breaker stays open before admitting probes: ms, or a `Backoff` growing with
   * each opening. It also bounds a probe round (docs/circuit-breaker.md).
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
   * Which errors count as failures of the dependency; the others count as successes, but for
   * the toolkit's own rejections, cancellations and errors after the caller's abort: nothing.
   * @default countsAsFailure
   */
  handle?: (error: unknown) => boolean;
  /**
   * Stamped on events and rejections; the registry lists breakers sharing a name as one: give
   * each its own.
   * @default 'circuit-breaker'
   */
  name?: string;
  clock?: Clock;
  /** Random source for a jittered `halfOpenAfter` backoff. */
  random?: Random;
  /** A snapshot to start from (see {@link BreakerSnapshot}). */
  initialState?: BreakerSnapshot;
  /** Where the breaker is listed; `false` lists it nowhere. @default breakerRegistry */
  registry?: BreakerRegistry | false;
  /**
   * Keeps the state in a `Store` under `key`, shared by every breaker with that store and key;
   * `circuitBreaker` then returns a `SharedCircuitBreaker`.
   */
  store?: Store;
  /** A shared breaker's key in the store's breaker namespace (store key `{breaker|<key>}`). @default name */
  key?: string;
  /**
   * With `store`: `{ syncMs }` decides locally and merges outcomes every `syncMs`; `'per-call'`
   * steps the store around each call (docs/circuit-breaker.md).
   * @default { syncMs: 1_000 }; 'per-call' over a memory store
   */
  sync?: 'per-call' | BreakerSyncOptions;
}

export interface BreakerSyncOptions {
  /** Longest time outcomes wait before they are merged into the shared window, in ms. @default 1_000 */
  syncMs?: number;
}

/** Every option `circuitBreaker` takes; any other name is rejected. */
export const BREAKER_OPTION_NAMES = {
  strategy: true,
  halfOpenAfter: true,
  halfOpenMaxCalls: true,
  handle: true,
  name: true,
  clock: true,
  random: true,
  initialState: true,
  registry: true,
  store: true,
  key: true,
  sync: true,
} as const satisfies OptionNames<CircuitBreakerOptions>;

const SYNC_OPTION_NAMES = { syncMs: true } as const satisfies OptionNames<BreakerSyncOptions>;

/** The default `handle`: every error except the toolkit's own rejections and cancellations. */
export const countsAsFailure = (error: unknown): boolean => !isOwnRejection(error) && classify(error) !== 'cancelled';

export const BREAKER_DEFAULTS = {
  strategy: /* @__PURE__ */ consecutive(5),
  halfOpenAfterMs: 30_000,
  halfOpenMaxCalls: 1,
  name: 'circuit-breaker',
  syncMs: 1_000,
} as const;

/**
 * Starting points, as option objects: `circuitBreaker({ ...breakerPresets.llm, name: 'openai' })`.
 * - `httpProvider`: opens when 5 of the last 10 calls failed (50 %), stays open 30 s.
 * - `llm`: opens after 3 failures in a row, stays open 60 s.
 */
export const breakerPresets = /* @__PURE__ */ Object.freeze({
  httpProvider: /* @__PURE__ */ Object.freeze({
    strategy: /* @__PURE__ */ countWindow({ size: 10, failureRate: 0.5, minimumCalls: 10 }),
    halfOpenAfter: 30_000,
  }) satisfies CircuitBreakerOptions,
  llm: /* @__PURE__ */ Object.freeze({
    strategy: /* @__PURE__ */ consecutive(3),
    halfOpenAfter: 60_000,
  }) satisfies CircuitBreakerOptions,
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
  const o = v.known(options, BREAKER_OPTION_NAMES, undefined, OPOSSUM);
  v.check(o.strategy === undefined || isStrategy(o.strategy), 'strategy', o.strategy, 'a strategy');
  const after = o.halfOpenAfter;
  if (typeof after === 'number' || after === undefined) v.number('halfOpenAfter', after, { min: 0 });
  else v.check(isBackoff(after), 'halfOpenAfter', after, 'milliseconds (>= 0) or a Backoff');
  v.integer('halfOpenMaxCalls', o.halfOpenMaxCalls, { min: 1 });
  v.predicate('handle', o.handle);
  v.string('name', o.name);
  v.predicate('random', o.random);
  v.clock('clock', o.clock);
  const registry = o.registry as { add?: unknown } | false | undefined;
  v.check(
    registry === undefined || registry === false || typeof registry?.add === 'function',
    'registry',
    o.registry,
    'a BreakerRegistry or false',
  );
  v.check(o.store === undefined || isStore(o.store), 'store', o.store, 'a Store');
  v.string('key', o.key);
  v.check(o.key === undefined || o.store !== undefined, 'key', o.key, 'no value unless store is set');
  const sync = o.sync;
  if (typeof sync === 'string') v.check(sync === 'per-call', 'sync', sync, "'per-call' or { syncMs }");
  else v.number('sync.syncMs', v.known(sync, SYNC_OPTION_NAMES, 'sync').syncMs, { gt: 0 });
  v.check(o.sync === undefined || o.store !== undefined, 'sync', o.sync, 'no value unless store is set');
  v.check(
    o.store === undefined || o.initialState === undefined,
    'initialState',
    o.initialState,
    'no value with a store (the store holds the state)',
  );
  const s = o.initialState;
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
      (s.isolations === undefined || (Number.isSafeInteger(s.isolations) && s.isolations >= 0)) &&
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
