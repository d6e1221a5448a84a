import { type Clock, systemClock } from '../clock/clock.js';
import { TimeoutError } from '../errors/errors.js';
import { Emitter } from '../events/emitter.js';
import { contextFor, type ExecuteContext, type Policy, type PolicyFn } from '../policy/policy.js';
import { type DeadlineEntry, DeadlineQueue } from './deadline-queue.js';
import { LazyContext } from './lazy-context.js';
import {
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

/** Where a call stands: running, past its soft (or cooperative) limit, or settled. */
const Phase = { Running: 0, SoftExpired: 1, Settled: 2 } as const;
type Phase = (typeof Phase)[keyof typeof Phase];

/** One call under a timeout: its context (lazy signal) and its place in the deadline queue. */
class TimeoutCall extends LazyContext implements DeadlineEntry {
  deadline = 0;
  prev: DeadlineEntry | undefined = undefined;
  next: DeadlineEntry | undefined = undefined;
  queue: DeadlineQueue | undefined = undefined;
  phase: Phase = Phase.Running;
  timeoutMs: number;
  /** Set when the policy may reject before the function settles (aggressive, hard limit). */
  reject: ((error: unknown) => void) | undefined = undefined;
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
  if (cause === call.abortReason) return cause;
  const error = new TimeoutError(call.timeoutMs);
  (error as { cause?: unknown }).cause = cause;
  return error;
}

/**
 * Bounds how long a call may take; see {@link TimeoutOptions} and {@link SoftHardTimeoutOptions}.
 * Every call gets its own signal, linked to the caller's; no timer is started per call (one
 * shared timer serves all deadlines) and no `AbortController` is created unless the function
 * reads `context.signal`.
 */
export class TimeoutPolicy implements Policy<TimeoutEvent> {
  readonly name: string;
  readonly #opts: ResolvedTimeoutOptions;
  readonly #clock: Clock;
  readonly #queue: DeadlineQueue;
  /** Deadlines of the hard limit of a soft/hard pair. */
  readonly #hardQueue: DeadlineQueue | undefined;
  readonly #fixedMs: number | undefined;
  readonly #msSource: (() => number) | undefined;
  readonly #rejectsEarly: boolean;
  readonly #events = new Emitter<TimeoutEvent>();
  readonly onEvent = this.#events.subscribe;
  readonly onTimeout = this.#events.subscribe;

  constructor(ms: TimeoutMs | SoftHardTimeoutOptions, options: TimeoutOptions = {}) {
    const clock = (typeof ms === 'object' && ms !== null ? ms.clock : options.clock) ?? systemClock;
    this.#opts = resolveTimeoutOptions(ms, options);
    this.#clock = clock;
    this.name = this.#opts.name;
    this.#queue = new DeadlineQueue(clock);
    this.#hardQueue = this.#opts.hardGapMs === undefined ? undefined : new DeadlineQueue(clock);
    this.#fixedMs = typeof this.#opts.ms === 'number' ? this.#opts.ms : undefined;
    this.#msSource = typeof this.#opts.ms === 'function' ? this.#opts.ms : undefined;
    this.#rejectsEarly = this.#opts.strategy === 'aggressive' || this.#hardQueue !== undefined;
  }

  execute<T>(fn: PolicyFn<T>, signal?: AbortSignal): Promise<T> {
    return this.run(fn, contextFor(signal));
  }

  wrap<A extends unknown[], R>(fn: (...args: A) => R | PromiseLike<R>): (...args: A) => Promise<Awaited<R>> {
    return (...args) => this.execute(() => fn(...args)) as Promise<Awaited<R>>;
  }

  run<T>(fn: PolicyFn<T>, context: ExecuteContext): Promise<T> {
    let ms = this.#fixedMs;
    if (ms === undefined) {
      ms = this.#msSource!();
      if (!(ms > 0 && ms < Number.POSITIVE_INFINITY)) return invoke(fn, context);
    }
    const call = new TimeoutCall(this, context, ms);
    const now = this.#clock.now();
    this.#queue.add(call, now + ms, now);
    let result: T | PromiseLike<T>;
    try {
      result = fn(call);
    } catch (error) {
      this.#settle(call);
      return Promise.reject(error);
    }
    if (!isThenable(result)) {
      this.#settle(call);
      return Promise.resolve(result);
    }
    if (this.#rejectsEarly) {
      return new Promise<T>((resolve, reject) => {
        call.reject = reject;
        result.then(
          (value) => {
            if (this.#settle(call)) resolve(value);
          },
          (error: unknown) => {
            const expired = call.phase === Phase.SoftExpired;
            if (this.#settle(call)) reject(expired ? timedOut(call, error) : error);
          },
        );
      });
    }
    return Promise.resolve(result).then(
      (value) => {
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

  /** Ends a call; false if it had already ended (rejected by the hard limit). */
  #settle(call: TimeoutCall): boolean {
    if (call.phase === Phase.Settled) return false;
    call.phase = Phase.Settled;
    call.queue?.remove(call);
    call.release();
    return true;
  }

  /** @internal Called by the deadline queue when a call's (soft or hard) deadline passes. */
  _expire(call: TimeoutCall): void {
    if (call.phase === Phase.Running) {
      const reason = new TimeoutError(call.timeoutMs);
      call.abort(reason);
      const gap = this.#opts.hardGapMs;
      if (this.#hardQueue !== undefined && gap !== undefined && gap > 0) {
        call.phase = Phase.SoftExpired;
        this.#emit(call.timeoutMs, 'abort');
        call.timeoutMs += gap;
        this.#hardQueue.add(call, call.deadline + gap, this.#clock.now());
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
      // The hard limit of a pair.
      call.phase = Phase.Settled;
      call.release();
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
 * A time limit for calls: `timeout(ms, { strategy })`, or `timeout({ softMs, hardMs })` for a
 * soft/hard pair. `ms` may be a function read per call (e.g. a latency percentile).
 *
 * @example
 * const policy = timeout(2_000, { strategy: 'cooperative' });
 * const res = await policy.execute(({ signal }) => fetch(url, { signal }));
 */
export function timeout(ms: TimeoutMs, options?: TimeoutOptions): TimeoutPolicy;
export function timeout(pair: SoftHardTimeoutOptions): TimeoutPolicy;
export function timeout(ms: TimeoutMs | SoftHardTimeoutOptions, options: TimeoutOptions = {}): TimeoutPolicy {
  return new TimeoutPolicy(ms, options);
}
