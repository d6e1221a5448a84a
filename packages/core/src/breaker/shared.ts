import { type Clock, type Random, systemClock, systemRandom } from '../clock/clock.js';
import type { Disposer } from '../events/emitter.js';
import type { ExecuteContext, PolicyFn } from '../policy/policy.js';
import { storeKey, storeNamespace } from '../store/namespace.js';
import type { Store } from '../store/store.js';
import { requireSupport } from '../store/supports.js';
import { BreakerEvents } from './events.js';
import type { CallOutcome } from './machine.js';
import { type BreakerStateName, type CircuitBreakerOptions, resolveBreakerOptions } from './options.js';
import { outcomeOf, Rejections } from './outcome.js';
import { breakerRegistry, type RegisteredBreaker } from './registry.js';
import { type BreakerDecision, type BreakerInput, breakerTransition } from './transition.js';

const BREAKER_NAMESPACE = /* @__PURE__ */ storeNamespace('breaker');
/** The round of a call admitted while the store was away: no stored state has it. */
const LOCAL_ROUND = -2;

/** Options of a breaker whose state lives in a store. */
export type SharedBreakerOptions = Omit<CircuitBreakerOptions, 'store' | 'initialState'> & { store: Store };

/**
 * A circuit breaker whose state is kept in a `Store` under `key` (`{breaker|<name>}` by default),
 * so every breaker with the same store and key — in this process or another — opens,
 * probes and closes as one. Built by `circuitBreaker({ store, ... })`. It runs the same
 * state machine as the in-process breaker through `breakerTransition`: each call takes one
 * store step before it runs (`acquire`) and one after it settles (`settle`).
 *
 * While the store is away (a step rejects), it decides from the last state it saw: a call
 * runs when that was `closed` and is rejected otherwise (with the store's error as
 * `cause`: no probe runs without the store, which holds the fleet's one probe lease). A
 * store error after the call never changes its outcome: the caller gets the call's value
 * or error. Each such error is a `store_error` event.
 *
 * `state` and `retryAfterMs` are what the latest store step of this instance returned; other
 * instances' changes show up at this instance's next call. `isolate()` and `reset()` are
 * store steps, so they return promises.
 */
export class SharedCircuitBreaker extends BreakerEvents implements RegisteredBreaker {
  readonly name: string;
  readonly key: string;
  readonly #store: Store;
  readonly #transition: ReturnType<typeof breakerTransition>;
  readonly #handle: (error: unknown) => boolean;
  readonly #slowMs: number;
  readonly #clock: Clock;
  readonly #random: Random;
  readonly #unregister: Disposer | undefined;
  #state: BreakerStateName = 'closed';
  /** This instance's failure that opened the breaker (the `cause` of its rejections); dropped when it closes. */
  #cause: unknown;
  #rejections: Rejections | undefined;
  /** Clock time at which the next probe is due, from the latest step. */
  #probeAt = 0;

  constructor(options: SharedBreakerOptions) {
    super();
    const resolved = resolveBreakerOptions(options);
    this.name = resolved.name;
    this.key = storeKey(BREAKER_NAMESPACE, options.key ?? resolved.name);
    this.#store = options.store;
    this.#transition = breakerTransition(options);
    requireSupport('circuitBreaker', this.#store, [this.#transition]);
    this.#handle = resolved.handle;
    this.#slowMs = resolved.strategy.slowCallMs ?? Number.POSITIVE_INFINITY;
    this.#clock = options.clock ?? systemClock;
    this.#random = options.random ?? systemRandom;
    const registry = options.registry ?? breakerRegistry;
    this.#unregister = registry === false ? undefined : registry.add(this);
  }

  /** The state the latest store step of this instance returned. */
  get state(): BreakerStateName {
    return this.#state;
  }

  /** Ms until the next probe, as of the latest store step (0 when closed, `Infinity` when isolated). */
  get retryAfterMs(): number {
    return Math.max(0, this.#probeAt - this.#clock.now());
  }

  async run<T>(fn: PolicyFn<T>, context: ExecuteContext): Promise<T> {
    const start = this.#clock.now();
    let storeError: unknown;
    const admitted = await this.#step({ type: 'acquire' }, start).catch((error: unknown) => {
      storeError = error;
      return this.#decideLocally(error, start);
    });
    if (admitted.admission === 'reject') {
      const state = admitted.state;
      const retryAfterMs = admitted.retryAfterMs ?? Number.POSITIVE_INFINITY;
      if (this.events.hasListeners) this.events.emit({ type: 'rejected', policy: this.name, state, retryAfterMs });
      const cause = storeError ?? (state === 'isolated' ? undefined : this.#cause);
      this.#rejections ??= new Rejections();
      throw this.#rejections.make(
        this.name,
        state,
        retryAfterMs,
        cause,
        admitted.round,
        SharedCircuitBreaker.prototype.run,
      );
    }
    const { round } = admitted;
    const probe = admitted.admission === 'probe';
    let value: T;
    try {
      value = await fn(context);
    } catch (error) {
      await this.#settle(outcomeOf(this.#handle, error, context.signal.aborted), error, round, probe, start);
      throw error;
    }
    await this.#settle('success', undefined, round, probe, start);
    return value;
  }

  /** Holds the shared breaker `isolated` until the returned function (or `reset()`) releases it. */
  async isolate(): Promise<() => Promise<void>> {
    await this.#step({ type: 'isolate' }, this.#clock.now());
    let released = false;
    return async () => {
      if (released) return;
      released = true;
      await this.#step({ type: 'release' }, this.#clock.now());
    };
  }

  /** Closes the shared breaker and forgets recent outcomes (also ends every isolation). */
  async reset(): Promise<void> {
    await this.#step({ type: 'reset' }, this.#clock.now());
  }

  /** Removes the breaker from its registry. It keeps working. */
  dispose(): void {
    this.#unregister?.();
  }

  /**
   * Reports a call's outcome to the round that admitted it. Never rejects: an outcome the
   * store did not take is reported as a `store_error` event, and the call keeps its own.
   */
  async #settle(outcome: CallOutcome, error: unknown, round: number, probe: boolean, start: number): Promise<void> {
    const now = this.#clock.now();
    const durationMs = now - start;
    this.emitOutcome(outcome, error, durationMs);
    const slow = durationMs >= this.#slowMs;
    try {
      const settled = await this.#step(
        probe ? { type: 'settle', outcome, slow, probeRound: round } : { type: 'settle', outcome, slow, round },
        now,
      );
      if (settled.state === 'open' && settled.round !== round) this.#cause = error; // this outcome opened it
    } catch (storeError) {
      this.#storeError('settle', storeError);
    }
  }

  /**
   * The admission while the store is away, from the last state this instance saw. The
   * round is one no store state has, so should the store return before the call settles,
   * its outcome is dropped as stale.
   */
  #decideLocally(error: unknown, now: number): BreakerDecision {
    this.#storeError('acquire', error);
    const state = this.#state;
    if (state === 'closed') return { admission: 'call', state, round: LOCAL_ROUND, retryAfterMs: 0 };
    const retryAfterMs = state === 'isolated' ? null : Math.max(0, this.#probeAt - now);
    return { admission: 'reject', state, round: LOCAL_ROUND, retryAfterMs };
  }

  #storeError(step: 'acquire' | 'settle', error: unknown): void {
    if (this.events.hasListeners) this.events.emit({ type: 'store_error', policy: this.name, step, error });
  }

  /** Applies one input in the store and takes note of the state it reports. */
  async #step(input: BreakerInput, now: number): Promise<BreakerDecision> {
    const decision = await this.#store.apply(this.key, this.#transition, { ...input, random: this.#random() }, now);
    const from = this.#state;
    this.#state = decision.state;
    if (decision.state === 'closed') this.#cause = undefined;
    this.#probeAt = decision.retryAfterMs === null ? Number.POSITIVE_INFINITY : now + decision.retryAfterMs;
    if (from !== decision.state && this.events.hasListeners) {
      this.events.emit({ type: 'state_change', policy: this.name, from, to: decision.state });
    }
    return decision;
  }
}
