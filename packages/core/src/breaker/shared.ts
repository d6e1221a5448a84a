import { type Clock, type Random, systemClock, systemRandom } from '../clock/clock.js';
import type { Disposer } from '../events/emitter.js';
import type { ExecuteContext, PolicyFn } from '../policy/policy.js';
import { delayOf } from '../retry/backoff.js';
import { isMemoryStore } from '../store/memory.js';
import { storeKey, storeNamespace } from '../store/namespace.js';
import type { Store } from '../store/store.js';
import { requireSupport } from '../store/supports.js';
import { isContextAborted } from '../timeout/lazy-context.js';
import { BreakerEvents } from './events.js';
import type { CallOutcome } from './machine.js';
import {
  BREAKER_DEFAULTS,
  type BreakerStateName,
  type CircuitBreakerOptions,
  resolveBreakerOptions,
} from './options.js';
import { outcomeOf, Rejections } from './outcome.js';
import { breakerRegistry, type RegisteredBreaker } from './registry.js';
import { breakerSyncTransition } from './sync-transition.js';
import { Synchroniser, UNKNOWN_ROUND } from './synchroniser.js';
import { type BreakerDecision, type BreakerInput, breakerTransition } from './transition.js';

const BREAKER_NAMESPACE = /* @__PURE__ */ storeNamespace('breaker');
/** The round of a call admitted while the store was away: no stored state has it. */
const LOCAL_ROUND = -2;

/** Options of a breaker whose state lives in a store. */
export type SharedBreakerOptions = Omit<CircuitBreakerOptions, 'store' | 'initialState'> & { store: Store };

// How it runs, by `sync` mode:
// - synchronised (the default over a networked store): a call is decided from this
//   instance's view of the shared state, with no store step while it is closed; outcomes
//   are counted locally and merged into the shared window by one store step
//   (`breakerSyncTransition`) at most every `syncMs`, or at once when this instance's view
//   of the window trips (it then opens locally until the store answers); each step reads
//   the shared state back, and a store `channel` carries changes to the others at once.
//   When a probe is due the call asks the store (`acquire`), which leases the fleet's
//   `halfOpenMaxCalls` probes: the other instances reject.
// - `'per-call'` (the default over the memory store): each call takes one store step before
//   it runs (`acquire`) and one after it settles (`settle`).
/**
 * A circuit breaker whose state is kept in a `Store` under `key`, shared by every breaker with that
 * store and key (docs/circuit-breaker.md).
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
  /** The synchronised mode's local view; `undefined` per call. */
  readonly #sync: Synchroniser | undefined;
  readonly #maxProbes: number;
  readonly #halfOpenAfter: () => number;
  #state: BreakerStateName = 'closed';
  #round = UNKNOWN_ROUND;
  /** This instance's failure that opened the breaker (the `cause` of its rejections); dropped when it closes. */
  #cause: unknown;
  #rejections: Rejections | undefined;
  /** Clock time at which the next probe is due, from the latest step. */
  #probeAt = 0;
  #wait = 0;

  constructor(options: SharedBreakerOptions) {
    super();
    const resolved = resolveBreakerOptions(options);
    this.name = resolved.name;
    this.key = storeKey(BREAKER_NAMESPACE, options.key ?? resolved.name);
    this.#store = options.store;
    this.#transition = breakerTransition(options);
    this.#handle = resolved.handle;
    this.#slowMs = resolved.strategy.slowCallMs ?? Number.POSITIVE_INFINITY;
    this.#clock = options.clock ?? systemClock;
    this.#random = options.random ?? systemRandom;
    this.#maxProbes = resolved.halfOpenMaxCalls;
    this.#halfOpenAfter = () => delayOf(resolved.halfOpenAfter, 1, 0, this.#random);
    const sync = options.sync ?? (isMemoryStore(this.#store) ? 'per-call' : {});
    if (sync === 'per-call') {
      requireSupport('circuitBreaker', this.#store, [this.#transition]);
      this.#sync = undefined;
    } else {
      const syncTransition = breakerSyncTransition(options);
      requireSupport('circuitBreaker', this.#store, [this.#transition, syncTransition]);
      const host = {
        adopt: (state: BreakerStateName, round: number, retryAfterMs: number | null, at: number) =>
          this.#adopt(state, round, retryAfterMs, at),
        storeError: (step: 'sync' | 'publish' | 'subscribe', error: unknown) => this.#storeError(step, error),
      };
      this.#sync = new Synchroniser(
        host,
        this.#store,
        this.key,
        resolved.strategy,
        syncTransition,
        this.#clock,
        this.#random,
        sync.syncMs ?? BREAKER_DEFAULTS.syncMs,
      );
    }
    const registry = options.registry ?? breakerRegistry;
    this.#unregister = registry === false ? undefined : registry.add(this);
  }

  /** The state the latest store step of this instance returned. */
  get state(): BreakerStateName {
    return this.#state;
  }

  /** Ms until the next probe, as of the latest store step (0 when closed, `Infinity` when isolated). */
  get retryAfterMs(): number {
    return this.#until(this.#clock.now());
  }

  /** Ms until a probe is due; after a clock stepped back, 0: the store's state decides (a delay from now). */
  #until(now: number): number {
    if (this.#probeAt > now + this.#wait) this.#probeAt = now;
    return Math.max(0, this.#probeAt - now);
  }

  /** Whether calls are decided locally and outcomes merged every `syncMs` (see the class). */
  get synchronised(): boolean {
    return this.#sync !== undefined;
  }

  run<T>(fn: PolicyFn<T>, context: ExecuteContext): Promise<T> {
    const sync = this.#sync;
    if (sync === undefined) return this.#stepped(fn, context);
    const now = this.#clock.now();
    const read = sync.stale(now);
    if (read === undefined) return this.#decide(fn, context, sync, now);
    // A caller that left while the store answered gets no call.
    return read.then(() =>
      isContextAborted(context)
        ? Promise.reject(context.signal.reason)
        : this.#decide(fn, context, sync, this.#clock.now()),
    );
  }

  /** A call decided from this instance's view (synchronised). */
  #decide<T>(fn: PolicyFn<T>, context: ExecuteContext, sync: Synchroniser, now: number): Promise<T> {
    const state = this.#state;
    if (state === 'closed') return this.#local(fn, context, sync, this.#round, now);
    if (state === 'isolated' || this.#until(now) > 0 || sync.probing >= this.#maxProbes) {
      return Promise.reject(this.#reject(state, this.#round, this.#until(now), undefined));
    }
    // A probe is due: the store leases it to one instance of the fleet.
    sync.probing++;
    return this.#stepped(fn, context, sync);
  }

  /** A call decided by the store: `acquire` before it runs, `settle` after. */
  async #stepped<T>(fn: PolicyFn<T>, context: ExecuteContext, asking?: Synchroniser): Promise<T> {
    const start = this.#clock.now();
    let storeError: unknown;
    const admitted = await this.#step({ type: 'acquire' }, start).catch((error: unknown) => {
      storeError = error;
      return this.#decideLocally(error, start);
    });
    // Asked: the store's answer (its retryAfterMs) now holds the other calls back, not this
    // probe, which may hang past its round and would hold them back for good.
    if (asking) asking.probing--;
    if (admitted.admission === 'reject') {
      const retryAfterMs = admitted.retryAfterMs ?? Number.POSITIVE_INFINITY;
      throw this.#reject(admitted.state, admitted.round, retryAfterMs, storeError);
    }
    const { round } = admitted;
    const probe = admitted.admission === 'probe';
    let value: T;
    try {
      if (isContextAborted(context)) throw context.signal.reason; // it left while the store decided: settled as ignored
      value = await fn(context);
    } catch (error) {
      await this.#settle(outcomeOf(this.#handle, error, context.signal.aborted), error, round, probe, start);
      throw error;
    }
    await this.#settle('success', undefined, round, probe, start);
    return value;
  }

  /** A call decided locally while closed (synchronised): its outcome is counted for the next merge. */
  async #local<T>(fn: PolicyFn<T>, context: ExecuteContext, sync: Synchroniser, round: number, start: number) {
    let value: T;
    try {
      value = await fn(context);
    } catch (error) {
      this.#counted(sync, outcomeOf(this.#handle, error, context.signal.aborted), error, round, start);
      throw error;
    }
    this.#counted(sync, 'success', undefined, round, start);
    return value;
  }

  #counted(sync: Synchroniser, outcome: CallOutcome, error: unknown, round: number, start: number): void {
    const now = this.#clock.now();
    const durationMs = now - start;
    this.emitOutcome(outcome, error, durationMs);
    if (!sync.record(outcome, durationMs >= this.#slowMs, round, now) || this.#state !== 'closed') return;
    // This instance's view of the window tripped: open here until the store answers the merge.
    this.#cause = error;
    this.#state = 'open';
    this.#probeAt = now + (this.#wait = this.#halfOpenAfter());
    if (this.events.hasListeners)
      this.events.emit({ type: 'state_change', policy: this.name, from: 'closed', to: 'open' });
  }

  /** A rejection; its `cause` is the store's error when given, else the failure that opened the breaker. */
  #reject(state: BreakerStateName, round: number, retryAfterMs: number, storeError: unknown) {
    if (this.events.hasListeners) this.events.emit({ type: 'rejected', policy: this.name, state, retryAfterMs });
    this.#rejections ??= new Rejections();
    const cause = storeError ?? (state === 'isolated' ? undefined : this.#cause);
    return this.#rejections.make(this.name, state, retryAfterMs, cause, round, SharedCircuitBreaker.prototype.run);
  }

  /**
   * Merges this instance's outcomes into the store now and reads the shared state back
   * (synchronised; resolves at once per call). Rejects with the store's error when it fails.
   */
  async sync(): Promise<void> {
    await this.#sync?.sync();
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

  /**
   * Removes the breaker from its registry, its channel listener and its timer (unmerged outcomes
   * are lost: `await sync()` first). It keeps working.
   */
  dispose(): void {
    this.#unregister?.();
    this.#sync?.dispose();
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
    const retryAfterMs = state === 'isolated' ? null : this.#until(now);
    return { admission: 'reject', state, round: LOCAL_ROUND, retryAfterMs };
  }

  #storeError(step: 'acquire' | 'settle' | 'sync' | 'publish' | 'subscribe', error: unknown): void {
    if (this.events.hasListeners) this.events.emit({ type: 'store_error', policy: this.name, step, error });
  }

  /** Takes the shared state a step (or another instance) reported, seen at local time `at`. */
  #adopt(state: BreakerStateName, round: number, retryAfterMs: number | null, at: number): void {
    const from = this.#state;
    this.#state = state;
    this.#round = round;
    if (state === 'closed') this.#cause = this.#rejections = undefined; // the rejections keep a cause too
    this.#wait = retryAfterMs ?? Number.POSITIVE_INFINITY;
    this.#probeAt = at + this.#wait;
    if (from !== state && this.events.hasListeners) {
      this.events.emit({ type: 'state_change', policy: this.name, from, to: state });
    }
  }

  /** Applies one input in the store and takes note of the state it reports (announcing a change it sees first). */
  async #step(input: BreakerInput, now: number): Promise<BreakerDecision> {
    const decision = await this.#store.apply(this.key, this.#transition, { ...input, random: this.#random() }, now);
    const sync = this.#sync;
    if (sync === undefined) this.#adopt(decision.state, decision.round, decision.retryAfterMs, now);
    else {
      const newer = decision.round > this.#round;
      sync.see(decision.state, decision.round, decision.retryAfterMs, now);
      if (newer) sync.announce(decision.state, decision.round, decision.retryAfterMs);
    }
    return decision;
  }
}
