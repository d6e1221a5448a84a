import { type Clock, systemClock, systemRandom } from '../clock/clock.js';
import type { BrokenCircuitError } from '../errors/errors.js';
import type { Disposer } from '../events/emitter.js';
import type { ExecuteContext, PolicyFn } from '../policy/policy.js';
import { isAbortable } from '../timeout/lazy-context.js';
import { BreakerEvents } from './events.js';
import { BreakerMachine, type CallOutcome } from './machine.js';
import {
  type BreakerSnapshot,
  type BreakerStateName,
  type CircuitBreakerOptions,
  type ResolvedBreakerOptions,
  resolveBreakerOptions,
} from './options.js';
import { outcomeOf, Rejections } from './outcome.js';
import { breakerRegistry, type RegisteredBreaker } from './registry.js';
import { type SharedBreakerOptions, SharedCircuitBreaker } from './shared.js';

export type { BreakerEvent } from './events.js';

/**
 * A circuit breaker; see {@link CircuitBreakerOptions} and docs/circuit-breaker.md for its
 * states. `circuitBreaker({ initialState: b.snapshot() })` continues exactly where `b` was.
 */
export class CircuitBreakerPolicy extends BreakerEvents implements RegisteredBreaker {
  readonly name: string;
  readonly #opts: ResolvedBreakerOptions;
  readonly #clock: Clock;
  readonly #m: BreakerMachine;
  /** Whether every call must read the clock (time window or slow-call tracking). */
  readonly #timed: boolean;
  readonly #slowMs: number;
  readonly #unregister: Disposer | undefined;
  /** The failure that opened the breaker (the `cause` of its rejections); dropped when it closes. */
  #cause: unknown;
  #rejections: Rejections | undefined;

  constructor(options: CircuitBreakerOptions = {}) {
    super();
    this.#opts = resolveBreakerOptions(options);
    this.#clock = options.clock ?? systemClock;
    this.name = this.#opts.name;
    const strategy = this.#opts.strategy;
    this.#slowMs = strategy.slowCallMs ?? Number.POSITIVE_INFINITY;
    this.#timed = strategy.usesTime || strategy.slowCallMs !== undefined;
    const s = options.initialState;
    this.#m = new BreakerMachine(this.#opts, strategy.createWindow(s?.window), options.random ?? systemRandom, s);
    this.#m.onChange = (from, to) => {
      if (to === 'closed') this.#cause = this.#rejections = undefined; // the rejections keep a cause too
      if (this.events.hasListeners) this.events.emit({ type: 'state_change', policy: this.name, from, to });
    };
    const registry = options.registry ?? breakerRegistry;
    this.#unregister = registry === false ? undefined : registry.add(this);
  }

  /** The current state (an open breaker whose delay has passed reads as `half-open`). */
  get state(): BreakerStateName {
    const m = this.#m;
    if (m.state === 'open' || m.state === 'half-open') m.advance(this.#clock.now());
    return m.state;
  }

  /** Ms until the next probe is admitted: 0 when closed or a probe slot is free, `Infinity` when isolated. */
  get retryAfterMs(): number {
    const state = this.state;
    return state === 'closed' ? 0 : this.#m.retryAfter(this.#clock.now());
  }

  run<T>(fn: PolicyFn<T>, context: ExecuteContext): Promise<T> {
    const m = this.#m;
    const round = m.round;
    if (m.state === 'closed') {
      // The common case (no timing, nobody listening) settles without an async frame.
      if (!this.#timed && !this.events.hasListeners) {
        if (this.#fastRound !== round) this.#bindFastPath(round);
        let result: T | PromiseLike<T>;
        try {
          result = fn(context);
        } catch (error) {
          return Promise.reject(this.#recordClosedFailure(error, context.signal.aborted, round));
        }
        // The signal is read only on failure: a lazy one (a deadline's) is not created for a success.
        return Promise.resolve(result).then(
          this.#fastSuccess,
          isAbortable(context)
            ? (error) => this.#rethrowClosed(error, context.signal.aborted, round)
            : this.#fastFailure,
        );
      }
      return this.#call(fn, context, round, false);
    }
    const now = this.#clock.now();
    const admission = m.admit(now);
    if (admission === 'reject') return Promise.reject(this.#reject(m.state, now));
    return this.#call(fn, context, m.round, true);
  }

  /**
   * Rejects every call with `IsolatedCircuitError` until the returned disposer runs (and
   * every other isolation is disposed too) or `reset()` is called; then the breaker closes.
   */
  isolate(): Disposer {
    this.#m.isolate();
    let disposed = false;
    return () => {
      if (disposed) return;
      disposed = true;
      this.#m.release();
    };
  }

  /** Closes the breaker and forgets recent outcomes (also ends every isolation). */
  reset(): void {
    this.#m.reset();
  }

  /** The breaker's JSON state; see {@link BreakerSnapshot}. */
  snapshot(): BreakerSnapshot {
    void this.state; // apply a due open → half-open first
    return this.#m.snapshot();
  }

  /** Removes the breaker from its registry. It keeps working. */
  dispose(): void {
    this.#unregister?.();
  }

  // Settlement of the fast path: no duration and no events. The callbacks count an outcome
  // only in the round that admitted the call; they are bound once per closed round, not per call.
  #fastRound = -1;
  #fastSuccess!: <T>(value: T) => T;
  #fastFailure!: (error: unknown) => never;
  #bindFastPath(round: number): void {
    const m = this.#m;
    this.#fastRound = round;
    this.#fastSuccess = (value) => {
      if (m.round === round) m.window.record(false, false, 0);
      return value;
    };
    this.#fastFailure = (error) => {
      throw this.#recordClosedFailure(error, false, round);
    };
  }
  #rethrowClosed(error: unknown, aborted: boolean, round: number): never {
    throw this.#recordClosedFailure(error, aborted, round);
  }
  #recordClosedFailure(error: unknown, aborted: boolean, round: number): unknown {
    const m = this.#m;
    if (m.round === round) {
      const outcome = this.#classify(error, aborted);
      if (outcome !== 'ignored' && m.window.record(outcome === 'failure', false, 0)) {
        this.#cause = error;
        m.open(this.#clock.now());
      }
    }
    return error;
  }

  #classify(error: unknown, aborted: boolean): CallOutcome {
    return outcomeOf(this.#opts.handle, error, aborted);
  }

  /** Runs a call admitted in `round`, as a probe or while closed. */
  async #call<T>(fn: PolicyFn<T>, context: ExecuteContext, round: number, probe: boolean): Promise<T> {
    const timed = this.#timed || this.events.hasListeners;
    const start = timed ? this.#clock.now() : 0;
    try {
      const value = await fn(context);
      this.#settle('success', undefined, round, probe, timed, start);
      return value;
    } catch (error) {
      this.#settle(this.#classify(error, context.signal.aborted), error, round, probe, timed, start);
      throw error;
    }
  }

  #settle(outcome: CallOutcome, error: unknown, round: number, probe: boolean, timed: boolean, start: number) {
    const now = timed ? this.#clock.now() : 0;
    const durationMs = now - start;
    this.emitOutcome(outcome, error, durationMs);
    // An untimed call reads the clock only when a failure may open the breaker.
    const at = timed ? now : outcome === 'failure' ? this.#clock.now() : 0;
    const m = this.#m;
    const before = m.round;
    if (probe) m.settleProbe(round, outcome, at);
    else m.recordClosed(outcome, durationMs >= this.#slowMs, at, round);
    if (m.round !== before && m.state === 'open') this.#cause = error; // this outcome opened it
  }

  #reject(state: BreakerStateName, now: number): BrokenCircuitError {
    const m = this.#m;
    const retryAfterMs = m.retryAfter(now);
    if (this.events.hasListeners) this.events.emit({ type: 'rejected', policy: this.name, state, retryAfterMs });
    const cause = state === 'isolated' ? undefined : this.#cause;
    this.#rejections ??= new Rejections();
    return this.#rejections.make(this.name, state, retryAfterMs, cause, m.round, CircuitBreakerPolicy.prototype.run);
  }
}

/**
 * A circuit breaker: fails fast with `BrokenCircuitError` while the dependency looks down,
 * then lets `halfOpenMaxCalls` probes through. With `store`, a {@link SharedCircuitBreaker}.
 *
 * @example
 * const breaker = circuitBreaker({ strategy: consecutive(5), halfOpenAfter: 30_000, name: 'payments' });
 * const charge = await breaker.execute(({ signal }) => payments.charge(order, { signal }));
 */
export function circuitBreaker(options: SharedBreakerOptions): SharedCircuitBreaker;
export function circuitBreaker(options?: CircuitBreakerOptions): CircuitBreakerPolicy;
export function circuitBreaker(options: CircuitBreakerOptions = {}): CircuitBreakerPolicy | SharedCircuitBreaker {
  let store: unknown;
  try {
    store = options?.store; // `?.`: null options, and a store that throws when read, are reported by the validation
  } catch {}
  return store === undefined
    ? new CircuitBreakerPolicy(options)
    : new SharedCircuitBreaker(options as SharedBreakerOptions);
}
