import { type Clock, systemClock } from '../clock/clock.js';
import { handles } from '../errors/handles.js';
import { type Disposer, Emitter } from '../events/emitter.js';
import { AdaptiveLatency } from '../metrics/adaptive.js';
import { type AttemptObserver, AttemptObservers, type AttemptRunner } from '../policy/attempts.js';
import { type ExecuteContext, invoke, PolicyBase, type PolicyFn } from '../policy/policy.js';
import { type DeadlineEntry, DeadlineQueue } from '../timeout/deadline-queue.js';
import { LazyContext } from '../timeout/lazy-context.js';
import { type HedgeOptions, type ResolvedHedgeOptions, resolveHedgeOptions } from './options.js';

/**
 * `hedge`: another attempt started (`attempt` 2 is the first hedge). `settled`: the call
 * ended; `winner` is the attempt that answered (0 when the call failed).
 */
export type HedgeEvent =
  | { type: 'hedge'; policy: string; attempt: number }
  | { type: 'settled'; policy: string; winner: number; attempts: number };

/** The reason a losing attempt's signal aborts with. */
export class HedgeLostError extends Error {
  override readonly name = 'AbortError';
  constructor() {
    super('Another hedged attempt answered first');
  }
}

// One call under the hedging policy: its attempts and its place in the delay queue.
class HedgeCall<T> implements DeadlineEntry {
  deadline = 0;
  prev: DeadlineEntry | undefined = undefined;
  next: DeadlineEntry | undefined = undefined;
  queue: DeadlineQueue | undefined = undefined;
  readonly attempts: LazyContext[] = [];
  pending = 0;
  done = false;
  // When the first attempt started (clock ms), for the learned delay.
  startedAt = 0;
  // The first attempt failed: its latency says nothing about the dependency's speed.
  firstFailed = false;
  lastError: unknown;
  // Runs each attempt for the attempt observers, when there are any.
  runner: AttemptRunner | undefined = undefined;

  constructor(
    readonly owner: HedgePolicy,
    readonly fn: PolicyFn<T>,
    readonly context: ExecuteContext,
    readonly delayMs: number,
    readonly resolve: (value: T) => void,
    readonly reject: (error: unknown) => void,
  ) {}

  expire(): void {
    this.owner._launch(this as HedgeCall<unknown>, undefined, this.delayMs);
  }
}

/**
 * Hedging (see {@link hedge}): the losers' signals abort with {@link HedgeLostError}; a failure
 * starts the next hedge at once; when all fail, the call rejects with the last failure.
 */
export class HedgePolicy extends PolicyBase<HedgeEvent> {
  readonly name: string;
  readonly #opts: ResolvedHedgeOptions;
  readonly #clock: Clock;
  readonly #queue: DeadlineQueue;
  /** The learned delay, for `delayMs: 'pNN'`. */
  readonly #adaptive: AdaptiveLatency | undefined;
  readonly #events = new Emitter<HedgeEvent>();
  readonly onEvent = this.#events.subscribe;

  constructor(options: HedgeOptions) {
    super();
    this.#opts = resolveHedgeOptions(options);
    this.#clock = options.clock ?? systemClock;
    this.#queue = new DeadlineQueue(this.#clock);
    this.name = this.#opts.name;
    this.#adaptive = this.#opts.adaptive === undefined ? undefined : new AdaptiveLatency(this.#opts.adaptive);
  }

  #attempts: AttemptObservers | undefined;

  /**
   * Runs each attempt of every call through `observer`'s runner for that call (see {@link
   * AttemptObserver}); free while nobody observes. Returns a disposer.
   */
  observeAttempts(observer: AttemptObserver): Disposer {
    this.#attempts ??= new AttemptObservers();
    return this.#attempts.add(observer);
  }

  run<T>(fn: PolicyFn<T>, context: ExecuteContext): Promise<T> {
    const runner = this.#attempts?.callStarted();
    const source = this.#opts.delayMs;
    const adaptive = this.#adaptive;
    // Read the clock once per call for a learned delay: the first launch reuses it.
    const now = adaptive === undefined ? undefined : this.#clock.now();
    const delayMs = typeof source === 'number' ? source : source !== undefined ? source() : adaptive!.value(now!);
    if (
      this.#opts.maxHedges === 0 ||
      typeof delayMs !== 'number' ||
      !(delayMs >= 0 && delayMs < Number.POSITIVE_INFINITY)
    ) {
      return adaptive?.records ? this.#timed(fn, context, adaptive, now!, runner) : runAttempt(fn, context, runner);
    }
    return new Promise<T>((resolve, reject) => {
      const call = new HedgeCall<T>(this, fn, context, delayMs, resolve, reject);
      call.runner = runner;
      this._launch(call as HedgeCall<unknown>, now);
    });
  }

  // @internal Starts the next attempt of `call`: the first, one after the delay (`waitedMs`),
  // or one after a failure.
  _launch(call: HedgeCall<unknown>, known?: number, waitedMs = 0): void {
    if (call.done) return;
    const started = call.attempts.length;
    if (started > 0 && call.context.signal.aborted) return; // the caller gave up: no more hedges
    const attempt = new LazyContext(call.context);
    call.attempts.push(attempt);
    call.pending++;
    const number = started + 1;
    if (started > 0 && this.#events.hasListeners)
      this.#events.emit({ type: 'hedge', policy: this.name, attempt: number });
    if (started < this.#opts.maxHedges) {
      const now = known ?? this.#clock.now();
      if (started === 0) call.startedAt = now;
      this.#queue.add(call, now + call.delayMs, now);
    }
    runAttempt(call.fn, attempt, call.runner, number, waitedMs).then(
      (value) => this.#won(call, attempt, number, value),
      (error: unknown) => this.#failed(call, attempt, error),
    );
  }

  #won(call: HedgeCall<unknown>, winner: LazyContext, number: number, value: unknown): void {
    call.pending--;
    winner.release();
    if (call.done) return;
    const adaptive = this.#adaptive;
    if (adaptive?.records && !call.firstFailed) {
      // The first attempt's latency: exact if it won, a lower bound if a hedge beat it. Either
      // way the slow tail stays in the window, so hedging does not shrink its own delay.
      const now = this.#clock.now();
      adaptive.record(now - call.startedAt, now);
    }
    this.#finish(call, number, winner);
    call.resolve(value);
  }

  #failed(call: HedgeCall<unknown>, attempt: LazyContext, error: unknown): void {
    call.pending--;
    attempt.release();
    if (call.done) return;
    if (attempt === call.attempts[0]) call.firstFailed = true;
    call.lastError = error;
    const handle = this.#opts.handle;
    let worth = true;
    try {
      worth = handle === undefined || handles(handle, error, 'hedge');
    } catch (refusal) {
      // A handle that answers a promise: the call ends with that refusal (its cause, the error).
      worth = false;
      error = refusal;
    }
    if (!worth) {
      // Not worth failing over: the call's answer, as a success would be.
      this.#finish(call, 0, attempt);
      call.reject(error);
      return;
    }
    if (call.attempts.length <= this.#opts.maxHedges) {
      this.#queue.remove(call);
      this._launch(call);
    }
    if (call.pending === 0) {
      this.#finish(call, 0);
      call.reject(call.lastError);
    }
  }

  /** An unhedged call (the learned delay is not known yet): records its latency if it succeeds. */
  #timed<T>(
    fn: PolicyFn<T>,
    context: ExecuteContext,
    adaptive: AdaptiveLatency,
    startedAt: number,
    runner: AttemptRunner | undefined,
  ): Promise<T> {
    const clock = this.#clock;
    return runAttempt(fn, context, runner).then((value) => {
      const now = clock.now();
      adaptive.record(now - startedAt, now);
      return value;
    });
  }

  /** Ends `call`; the attempts other than `answered` lose (their signals abort). */
  #finish(call: HedgeCall<unknown>, winner: number, answered?: LazyContext): void {
    call.done = true;
    this.#queue.remove(call);
    if (this.#events.hasListeners) {
      this.#events.emit({ type: 'settled', policy: this.name, winner, attempts: call.attempts.length });
    }
    if (answered !== undefined && call.attempts.length > 1) {
      // Only when there are losers: an Error captures a stack trace (~2 µs).
      const lost = new HedgeLostError();
      for (const other of call.attempts) if (other !== answered) other.abort(lost);
    }
  }
}

/** Calls `fn` with `context`, through the call's attempt runner when it has one. */
function runAttempt<T>(
  fn: PolicyFn<T>,
  context: ExecuteContext,
  runner: AttemptRunner | undefined,
  attempt = 1,
  delayMs = 0,
): Promise<T> {
  return runner === undefined ? invoke(fn, context) : runner(() => invoke(fn, context), { attempt, delayMs });
}

/**
 * Hedged requests (idempotent calls only): with no answer after `delayMs`, another attempt
 * starts; the first success wins.
 *
 * @example
 * const policy = hedge({ delayMs: 200, maxHedges: 2 }); // or { delayMs: 'p95', min: 20, max: 2_000 }
 * const body = await policy.execute(({ signal }) => fetch(url, { signal }).then((r) => r.json()));
 */
export function hedge(options: HedgeOptions): HedgePolicy {
  return new HedgePolicy(options);
}
