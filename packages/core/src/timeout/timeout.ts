import { type Clock, systemClock } from '../clock/clock.js';
import { TimeoutError } from '../errors/errors.js';
import { OptionsValidator } from '../errors/validate.js';
import { type Disposer, Emitter } from '../events/emitter.js';
import { AdaptiveLatency } from '../metrics/adaptive.js';
import { type ExecuteContext, PolicyBase, type PolicyFn } from '../policy/policy.js';
import { awaitedReasons, isAwaited } from './awaited.js';
import { type DeadlineEntry, DeadlineQueue } from './deadline-queue.js';
import { isAbortable, LazyContext, onContextAbort } from './lazy-context.js';
import {
  type AdaptiveTimeoutOptions,
  type FixedTimeoutOptions,
  type ResolvedTimeoutOptions,
  resolveTimeoutOptions,
  type SoftHardTimeoutOptions,
  type TimeoutMs,
  type TimeoutOptions,
} from './options.js';

/**
 * `abort`: the call's signal aborted and the policy waits for the function (cooperative,
 * or the soft limit of a pair). `reject`: the call rejected with `TimeoutError` at once
 * (aggressive, or the hard limit of a pair).
 */
export type TimeoutEvent = { type: 'timeout'; policy: string; timeoutMs: number; action: 'abort' | 'reject' };

// Where a call stands: running, past its soft (or cooperative) limit, or settled.
const Phase = { Running: 0, SoftExpired: 1, Settled: 2 } as const;
type Phase = (typeof Phase)[keyof typeof Phase];

// One call under a timeout: its context (lazy signal) and its place in the deadline queue.
class TimeoutCall extends LazyContext implements DeadlineEntry {
  deadline = 0;
  prev: DeadlineEntry | undefined = undefined;
  next: DeadlineEntry | undefined = undefined;
  queue: DeadlineQueue | undefined = undefined;
  phase: Phase = Phase.Running;
  timeoutMs: number;
  // Set when the policy may reject before the function settles (aggressive, hard limit).
  reject: ((error: unknown) => void) | undefined = undefined;
  // Past its soft limit: stops following the caller, whose abort ends the wait for a substitute.
  unfollow: Disposer | undefined = undefined;
  readonly #owner: TimeoutPolicy;

  constructor(owner: TimeoutPolicy, parent: ExecuteContext, timeoutMs: number) {
    super(parent);
    this.#owner = owner;
    this.timeoutMs = timeoutMs;
  }

  expire(): void {
    this.#owner._expire(this);
  }
}

const isThenable = (v: unknown): v is PromiseLike<unknown> =>
  v !== null &&
  (typeof v === 'object' || typeof v === 'function') &&
  typeof (v as { then?: unknown }).then === 'function';

function timedOut(call: TimeoutCall, cause: unknown): unknown {
  const soft = call.abortReason as TimeoutError;
  if (cause === soft) return cause;
  // The soft limit's: a soft/hard call's timeoutMs is its hard limit by now.
  const error = new TimeoutError(soft?.timeoutMs ?? call.timeoutMs);
  (error as { cause?: unknown }).cause = cause;
  return error;
}

/**
 * Bounds how long a call may take (docs/timeout.md). Each call gets its own signal, linked to
 * the caller's, made only when read; one shared timer serves every deadline.
 */
export class TimeoutPolicy extends PolicyBase<TimeoutEvent> {
  readonly name: string;
  readonly #opts: ResolvedTimeoutOptions;
  readonly #clock: Clock;
  readonly #queue: DeadlineQueue;
  /** Deadlines of the hard limit of a soft/hard pair. */
  readonly #hardQueue: DeadlineQueue | undefined;
  readonly #fixedMs: number | undefined;
  readonly #msSource: (() => number) | undefined;
  readonly #rejectsEarly: boolean;
  /** The learned limit, for `ms: 'pNN'`. */
  readonly #adaptive: AdaptiveLatency | undefined;
  /** The same, when the policy records its own latencies (no external source). */
  readonly #learn: AdaptiveLatency | undefined;
  readonly #events = new Emitter<TimeoutEvent>();
  readonly onEvent = this.#events.subscribe;
  readonly onTimeout = this.#events.subscribe;

  constructor(
    ms: TimeoutMs | FixedTimeoutOptions | SoftHardTimeoutOptions | AdaptiveTimeoutOptions,
    options: TimeoutOptions = {},
  ) {
    super();
    this.#opts = resolveTimeoutOptions(ms, options); // first: nothing is read of options it refuses
    const clock = (typeof ms === 'object' && ms !== null ? ms.clock : options?.clock) ?? systemClock;
    this.#clock = clock;
    this.name = this.#opts.name;
    this.#queue = new DeadlineQueue(clock);
    this.#hardQueue = this.#opts.hardGapMs === undefined ? undefined : new DeadlineQueue(clock);
    const adaptive = this.#opts.adaptive;
    this.#adaptive = adaptive === undefined ? undefined : new AdaptiveLatency(adaptive);
    this.#learn = this.#adaptive?.records ? this.#adaptive : undefined;
    this.#fixedMs = typeof this.#opts.ms === 'number' && adaptive === undefined ? this.#opts.ms : undefined;
    this.#msSource = typeof this.#opts.ms === 'function' ? this.#opts.ms : undefined;
    this.#rejectsEarly = this.#opts.strategy === 'aggressive' || this.#hardQueue !== undefined;
  }

  /**
   * Clears the policy's shared timer while no call waits on it, so a dropped policy holds nothing;
   * a later call arms it again.
   */
  dispose(): void {
    this.#queue.release();
    this.#hardQueue?.release();
  }

  /** A function with `fn`'s parameters that calls it under the time limit (aggressive only: `fn` gets no signal). */
  override wrap<A extends unknown[], R>(fn: (...args: A) => R | PromiseLike<R>): (...args: A) => Promise<Awaited<R>> {
    if (!this.#rejectsEarly) {
      new OptionsValidator('timeout.wrap')
        .check(
          false,
          'strategy',
          this.#opts.strategy,
          "'aggressive' (a wrapped function receives no signal, so a cooperative timeout could never end it)",
        )
        .done();
    }
    return super.wrap(fn);
  }

  run<T>(fn: PolicyFn<T>, context: ExecuteContext): Promise<T> {
    let ms = this.#fixedMs;
    const now = this.#clock.now();
    if (ms === undefined) {
      if (this.#adaptive !== undefined) {
        ms = this.#adaptive.value(now);
        if (!(ms > 0)) ms = this.#opts.ms as number; // not warmed up: `max`
      } else {
        ms = this.#msSource!();
        if (typeof ms !== 'number' || !(ms > 0 && ms < Number.POSITIVE_INFINITY)) return invoke(fn, context);
      }
    }
    const call = new TimeoutCall(this, context, ms);
    this.#queue.add(call, now + ms, now);
    let result: T | PromiseLike<T>;
    let thenable: boolean;
    try {
      result = fn(call);
      thenable = isThenable(result); // a `then` getter that throws must settle the call too
    } catch (error) {
      this.#settle(call);
      return Promise.reject(error);
    }
    if (!thenable) {
      if (this.#learn !== undefined) this.#learned(call);
      this.#settle(call);
      return Promise.resolve(result);
    }
    if (this.#rejectsEarly) {
      return new Promise<T>((resolve, reject) => {
        call.reject = reject;
        // The caller gave up: answered now with its reason, as the limit would answer, even when
        // the function ignores its signal. Told through the call (no signal made); dropped on settling.
        if (isAbortable(call.parent))
          call.onAbort((reason) => {
            if (!call.abortedByPolicy && this.#settle(call)) reject(reason);
          });
        const failed = (error: unknown) => {
          const expired = call.phase === Phase.SoftExpired;
          if (this.#settle(call)) reject(expired ? timedOut(call, error) : error);
        };
        try {
          (result as PromiseLike<T>).then((value) => {
            if (this.#learn !== undefined) this.#learned(call);
            if (this.#settle(call)) resolve(value);
          }, failed);
        } catch (error) {
          failed(error); // a thenable whose `then` throws
        }
      });
    }
    return Promise.resolve(result).then(
      (value) => {
        if (this.#learn !== undefined) this.#learned(call);
        this.#settle(call);
        return value;
      },
      (error: unknown) => {
        const expired = call.phase === Phase.SoftExpired;
        this.#settle(call);
        throw expired ? timedOut(call, error) : error;
      },
    );
  }

  /** Records the latency of a call that succeeded within its limit. */
  #learned(call: TimeoutCall): void {
    if (call.phase !== Phase.Running) return; // timed out: already counted at `max`
    const now = this.#clock.now();
    this.#learn!.record(now - (call.deadline - call.timeoutMs), now);
  }

  /** Ends a call; false if it had already ended (rejected by the hard limit). */
  #settle(call: TimeoutCall): boolean {
    if (call.phase === Phase.Settled) return false;
    call.phase = Phase.Settled;
    call.queue?.remove(call);
    call.release();
    if (call.unfollow !== undefined) {
      call.unfollow(); // it waited past its soft limit: now answered, nobody waits for a substitute
      awaitedReasons().delete(call.abortReason as object);
    }
    return true;
  }

  // @internal Called by the deadline queue when a call's (soft or hard) deadline passes.
  _expire(call: TimeoutCall): void {
    if (call.phase === Phase.Running) {
      // Its latency is unknown but above the limit: count it at twice the limit, capped at `max`
      // (see AdaptiveTimeoutOptions), so the limit grows instead of ratcheting down.
      this.#learn?.record(Math.min(2 * call.timeoutMs, this.#opts.ms as number), this.#clock.now());
      const reason = new TimeoutError(call.timeoutMs);
      const gap = this.#opts.hardGapMs;
      const paired = this.#hardQueue !== undefined && gap !== undefined && gap > 0;
      const waits = paired || !this.#rejectsEarly;
      // A limit that waits for the function lets a fallback inside substitute, until its caller
      // aborts too (a cancel, or a limit outside that answered it).
      if (waits) awaitedReasons().set(reason, true); // before the abort tells a waiting limit inside
      call.abort(reason);
      if (waits) {
        call.unfollow = onContextAbort(call.parent, (outer) => {
          // Waits on while the limit outside does: as long as that one waits.
          // Its own reason, forwarded to the caller by the function, is the caller cancelling.
          if (outer !== reason && isAwaited(outer)) awaitedReasons().set(reason, outer as object);
          else {
            awaitedReasons().delete(reason);
            // A pair's caller gave up: answered now, not at the hard limit.
            if (paired && outer !== reason && this.#settle(call)) call.reject!(outer);
          }
        });
      }
      if (paired) {
        call.phase = Phase.SoftExpired;
        this.#emit(call.timeoutMs, 'abort');
        call.timeoutMs += gap!;
        this.#hardQueue!.add(call, call.deadline + gap!, this.#clock.now());
        return;
      }
      if (!this.#rejectsEarly) {
        call.phase = Phase.SoftExpired;
        this.#emit(call.timeoutMs, 'abort');
        return;
      }
      call.phase = Phase.Settled;
      call.release();
      this.#emit(call.timeoutMs, 'reject');
      call.reject?.(reason);
      return;
    }
    if (call.phase === Phase.SoftExpired) {
      // The hard limit of a pair: the caller is answered, nobody waits for a substitute.
      awaitedReasons().delete(call.abortReason as object);
      call.phase = Phase.Settled;
      call.release();
      call.unfollow?.();
      this.#emit(call.timeoutMs, 'reject');
      call.reject?.(new TimeoutError(call.timeoutMs));
    }
  }

  #emit(timeoutMs: number, action: 'abort' | 'reject'): void {
    if (this.#events.hasListeners) this.#events.emit({ type: 'timeout', policy: this.name, timeoutMs, action });
  }
}

function invoke<T>(fn: PolicyFn<T>, context: ExecuteContext): Promise<T> {
  try {
    return Promise.resolve(fn(context));
  } catch (error) {
    return Promise.reject(error);
  }
}

/**
 * A time limit: `timeout(ms, { strategy })`, `timeout({ softMs, hardMs })` or a learned
 * `timeout({ ms: 'p99', min, max })`. By default the call rejects with `TimeoutError` at the
 * limit, whether or not the function honours its signal.
 *
 * @example
 * const res = await timeout(2_000).execute(({ signal }) => fetch(url, { signal }));
 */
export function timeout(ms: TimeoutMs, options?: TimeoutOptions): TimeoutPolicy;
export function timeout(fixed: FixedTimeoutOptions): TimeoutPolicy;
export function timeout(pair: SoftHardTimeoutOptions): TimeoutPolicy;
export function timeout(adaptive: AdaptiveTimeoutOptions): TimeoutPolicy;
export function timeout(
  ms: TimeoutMs | FixedTimeoutOptions | SoftHardTimeoutOptions | AdaptiveTimeoutOptions,
  options: TimeoutOptions = {},
): TimeoutPolicy {
  return new TimeoutPolicy(ms, options);
}
