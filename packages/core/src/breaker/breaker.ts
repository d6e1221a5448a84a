import { type Clock, type Random, systemClock, systemRandom } from '../clock/clock.js';
import { classify } from '../errors/classify.js';
import { BrokenCircuitError, IsolatedCircuitError, isOwnRejection } from '../errors/errors.js';
import { type Disposer, Emitter, onType } from '../events/emitter.js';
import { contextFor, type ExecuteContext, neverAborted, type Policy, type PolicyFn } from '../policy/policy.js';
import {
  type BreakerSnapshot,
  type BreakerStateName,
  type CircuitBreakerOptions,
  type ResolvedBreakerOptions,
  resolveBreakerOptions,
} from './options.js';
import { breakerRegistry, type RegisteredBreaker } from './registry.js';
import type { BreakerWindow } from './strategy.js';

export type BreakerEvent =
  | { type: 'state_change'; policy: string; from: BreakerStateName; to: BreakerStateName }
  | { type: 'success'; policy: string; durationMs: number }
  | { type: 'failure'; policy: string; error: unknown; durationMs: number }
  | { type: 'rejected'; policy: string; state: BreakerStateName; retryAfterMs: number };

type Listener<K extends BreakerEvent['type']> = (event: Extract<BreakerEvent, { type: K }>) => void;

/** How a settled call counts: for the dependency, against it, or not at all. */
const SUCCESS = 0;
const FAILURE = 1;
const IGNORED = 2;
type Outcome = typeof SUCCESS | typeof FAILURE | typeof IGNORED;

/** Builds a rejection without a stack trace: an open breaker must reject cheaply. */
function withoutStack<E>(make: () => E): E {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return make();
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/**
 * A circuit breaker; see {@link CircuitBreakerOptions}. The state machine:
 * `closed` → (strategy trips) → `open` → (`halfOpenAfter` elapsed, checked lazily on the
 * next call or read of `state`) → `half-open` → (`halfOpenMaxCalls` probes succeed) →
 * `closed`, or (a probe fails, or every probe slot stays taken for `halfOpenAfter`) → `open`.
 * `isolate()` holds it in `isolated` until `reset()` or every isolation is disposed.
 *
 * Decisions depend only on the snapshot, the outcomes and the times they are reported at,
 * so `circuitBreaker({ initialState: b.snapshot() })` continues exactly where `b` was.
 */
export class CircuitBreakerPolicy implements Policy<BreakerEvent>, RegisteredBreaker {
  readonly name: string;
  readonly #opts: ResolvedBreakerOptions;
  readonly #clock: Clock;
  readonly #random: Random;
  readonly #window: BreakerWindow;
  /** Whether every call must read the clock (time window or slow-call tracking). */
  readonly #timed: boolean;
  readonly #slowMs: number;
  readonly #events = new Emitter<BreakerEvent>();
  readonly #unregister: Disposer | undefined;

  #state: BreakerStateName = 'closed';
  /** Bumped on every transition; a probe's outcome reported under an older generation is ignored. */
  #generation = 0;
  #nextProbeAt = 0;
  #openings = 0;
  #lastDelayMs = 0;
  #lastProbeAt = 0;
  #probes = 0;
  #probeSuccesses = 0;
  #isolations = 0;

  readonly onEvent = this.#events.subscribe;

  constructor(options: CircuitBreakerOptions = {}) {
    this.#opts = resolveBreakerOptions(options);
    this.#clock = options.clock ?? systemClock;
    this.#random = options.random ?? systemRandom;
    this.name = this.#opts.name;
    const strategy = this.#opts.strategy;
    this.#slowMs = strategy.slowCallMs ?? Number.POSITIVE_INFINITY;
    this.#timed = strategy.usesTime || strategy.slowCallMs !== undefined;
    const s = options.initialState;
    this.#window = strategy.createWindow(s?.window);
    if (s) {
      this.#state = s.state;
      this.#nextProbeAt = s.nextProbeAt;
      this.#openings = s.openings;
      this.#lastDelayMs = s.lastDelayMs;
      this.#lastProbeAt = s.lastProbeAt;
      this.#probeSuccesses = s.probeSuccesses;
      if (s.state === 'isolated') this.#isolations = 1;
    }
    const registry = options.registry ?? breakerRegistry;
    this.#unregister = registry === false ? undefined : registry.add(this);
  }

  /** The current state (an open breaker whose delay has passed reads as `half-open`). */
  get state(): BreakerStateName {
    if (this.#state === 'open' || this.#state === 'half-open') this.#advance(this.#clock.now());
    return this.#state;
  }

  /** Ms until the next probe is admitted: 0 when closed or a probe slot is free, `Infinity` when isolated. */
  get retryAfterMs(): number {
    const state = this.state;
    if (state === 'isolated') return Number.POSITIVE_INFINITY;
    if (state === 'closed') return 0;
    return this.#retryAfter(this.#clock.now());
  }

  /** Subscribes to one event type (`'state_change'`, `'success'`, `'failure'`, `'rejected'`). */
  on<K extends BreakerEvent['type']>(type: K, listener: Listener<K>): Disposer {
    return onType(this.#events.subscribe, type)(listener);
  }
  onStateChange(listener: Listener<'state_change'>): Disposer {
    return onType(this.#events.subscribe, 'state_change')(listener);
  }
  onSuccess(listener: Listener<'success'>): Disposer {
    return onType(this.#events.subscribe, 'success')(listener);
  }
  onFailure(listener: Listener<'failure'>): Disposer {
    return onType(this.#events.subscribe, 'failure')(listener);
  }
  onRejected(listener: Listener<'rejected'>): Disposer {
    return onType(this.#events.subscribe, 'rejected')(listener);
  }

  execute<T>(fn: PolicyFn<T>, signal?: AbortSignal): Promise<T> {
    return this.run(fn, contextFor(signal));
  }

  wrap<A extends unknown[], R>(fn: (...args: A) => R | PromiseLike<R>): (...args: A) => Promise<Awaited<R>> {
    return (...args) => this.execute(() => fn(...args)) as Promise<Awaited<R>>;
  }

  run<T>(fn: PolicyFn<T>, context: ExecuteContext): Promise<T> {
    if (this.#state === 'closed') {
      // The common case (no timing, nobody listening) settles without an async frame.
      if (!this.#timed && !this.#events.hasListeners) {
        const signal = context.signal;
        let result: T | PromiseLike<T>;
        try {
          result = fn(context);
        } catch (error) {
          return Promise.reject(this.#recordClosedFailure(error, signal.aborted));
        }
        return Promise.resolve(result).then(
          this.#closedSuccess,
          signal === neverAborted ? this.#closedFailure : (error) => this.#rethrowClosed(error, signal.aborted),
        );
      }
      return this.#call(fn, context, false);
    }
    const now = this.#clock.now();
    this.#advance(now);
    const state = this.#state;
    if (state === 'half-open' && this.#probes < this.#opts.halfOpenMaxCalls) {
      this.#probes++;
      this.#lastProbeAt = now;
      return this.#call(fn, context, true);
    }
    return Promise.reject(this.#reject(state, now));
  }

  /**
   * Rejects every call with `IsolatedCircuitError` until the returned disposer runs (and
   * every other isolation is disposed too) or `reset()` is called; then the breaker closes.
   */
  isolate(): Disposer {
    this.#isolations++;
    if (this.#state !== 'isolated') this.#transition('isolated');
    let disposed = false;
    return () => {
      if (disposed) return;
      disposed = true;
      if (this.#isolations > 0 && --this.#isolations === 0 && this.#state === 'isolated') this.#close();
    };
  }

  /** Closes the breaker and forgets recent outcomes (also ends every isolation). */
  reset(): void {
    this.#isolations = 0;
    this.#close();
  }

  /** The breaker's JSON state; see {@link BreakerSnapshot}. */
  snapshot(): BreakerSnapshot {
    if (this.#state === 'open' || this.#state === 'half-open') this.#advance(this.#clock.now());
    return {
      version: 1,
      state: this.#state,
      nextProbeAt: this.#nextProbeAt,
      openings: this.#openings,
      lastDelayMs: this.#lastDelayMs,
      lastProbeAt: this.#lastProbeAt,
      probeSuccesses: this.#probeSuccesses,
      window: this.#window.snapshot(),
    };
  }

  /** Removes the breaker from its registry. It keeps working. */
  dispose(): void {
    this.#unregister?.();
  }

  // Settlement of the fast path: no duration and no events.
  readonly #closedSuccess = <T>(value: T): T => {
    if (this.#state === 'closed') this.#window.record(false, false, 0);
    return value;
  };
  readonly #closedFailure = (error: unknown): never => {
    throw this.#recordClosedFailure(error, false);
  };
  #rethrowClosed(error: unknown, aborted: boolean): never {
    throw this.#recordClosedFailure(error, aborted);
  }
  #recordClosedFailure(error: unknown, aborted: boolean): unknown {
    if (this.#state !== 'closed') return error;
    const outcome = this.#classify(error, aborted);
    if (outcome !== IGNORED && this.#window.record(outcome === FAILURE, false, 0)) this.#open(this.#clock.now());
    return error;
  }

  #classify(error: unknown, aborted: boolean): Outcome {
    if (aborted) return IGNORED;
    if (this.#opts.handle(error)) return FAILURE;
    return isOwnRejection(error) || classify(error) === 'cancelled' ? IGNORED : SUCCESS;
  }

  async #call<T>(fn: PolicyFn<T>, context: ExecuteContext, probe: boolean): Promise<T> {
    const generation = this.#generation;
    const timed = this.#timed || this.#events.hasListeners;
    const start = timed ? this.#clock.now() : 0;
    try {
      const value = await fn(context);
      this.#settle(SUCCESS, undefined, generation, probe, timed, start);
      return value;
    } catch (error) {
      this.#settle(this.#classify(error, context.signal.aborted), error, generation, probe, timed, start);
      throw error;
    }
  }

  #settle(outcome: Outcome, error: unknown, generation: number, probe: boolean, timed: boolean, start: number) {
    const now = timed ? this.#clock.now() : 0;
    const durationMs = now - start;
    if (this.#events.hasListeners && outcome !== IGNORED) {
      this.#events.emit(
        outcome === SUCCESS
          ? { type: 'success', policy: this.name, durationMs }
          : { type: 'failure', policy: this.name, error, durationMs },
      );
    }
    if (probe) {
      if (generation !== this.#generation) return; // a probe of an earlier round: stale
      this.#probes--;
      if (outcome === FAILURE) this.#open(timed ? now : this.#clock.now());
      else if (outcome === SUCCESS && ++this.#probeSuccesses >= this.#opts.halfOpenMaxCalls) this.#close();
      return;
    }
    // A call admitted while closed counts if the breaker is still (or again) closed.
    if (outcome === IGNORED || this.#state !== 'closed') return;
    const slow = durationMs >= this.#slowMs;
    if (this.#window.record(outcome === FAILURE, slow, now)) this.#open(timed ? now : this.#clock.now());
  }

  /** Time-driven transitions: open → half-open when due; an expired probe round → open. */
  #advance(now: number): void {
    if (this.#state === 'open' && now >= this.#nextProbeAt) {
      this.#lastProbeAt = now;
      this.#probeSuccesses = 0;
      this.#probes = 0;
      this.#transition('half-open');
    } else if (
      this.#state === 'half-open' &&
      this.#probes >= this.#opts.halfOpenMaxCalls &&
      now >= this.#lastProbeAt + this.#lastDelayMs
    ) {
      this.#open(now);
    }
  }

  #open(now: number): void {
    this.#openings++;
    const delay = this.#opts.halfOpenAfter.delay(this.#openings, this.#lastDelayMs, this.#random);
    this.#lastDelayMs = delay;
    this.#nextProbeAt = now + delay;
    this.#probes = 0;
    this.#probeSuccesses = 0;
    this.#window.reset();
    this.#transition('open');
  }

  #close(): void {
    this.#openings = 0;
    this.#lastDelayMs = 0;
    this.#probes = 0;
    this.#probeSuccesses = 0;
    this.#window.reset();
    if (this.#state !== 'closed') this.#transition('closed');
  }

  #transition(to: BreakerStateName): void {
    const from = this.#state;
    this.#state = to;
    this.#generation++;
    if (this.#events.hasListeners && from !== to) {
      this.#events.emit({ type: 'state_change', policy: this.name, from, to });
    }
  }

  #retryAfter(now: number): number {
    if (this.#state === 'open') return Math.max(0, this.#nextProbeAt - now);
    if (this.#state === 'half-open' && this.#probes >= this.#opts.halfOpenMaxCalls) {
      return Math.max(0, this.#lastProbeAt + this.#lastDelayMs - now);
    }
    return 0;
  }

  #reject(state: BreakerStateName, now: number): BrokenCircuitError {
    const retryAfterMs = state === 'isolated' ? Number.POSITIVE_INFINITY : this.#retryAfter(now);
    if (this.#events.hasListeners) this.#events.emit({ type: 'rejected', policy: this.name, state, retryAfterMs });
    return withoutStack(() =>
      state === 'isolated'
        ? new IsolatedCircuitError(`Circuit breaker "${this.name}" is isolated`)
        : new BrokenCircuitError(`Circuit breaker "${this.name}" is ${state}`, retryAfterMs),
    );
  }
}

/**
 * A circuit breaker. Fails fast with `BrokenCircuitError` (carrying `retryAfterMs`) while
 * the dependency looks down, then lets `halfOpenMaxCalls` probes through to test it.
 *
 * @example
 * const breaker = circuitBreaker({ strategy: consecutive(5), halfOpenAfter: 30_000, name: 'payments' });
 * const charge = await breaker.execute(({ signal }) => payments.charge(order, { signal }));
 */
export function circuitBreaker(options: CircuitBreakerOptions = {}): CircuitBreakerPolicy {
  return new CircuitBreakerPolicy(options);
}
