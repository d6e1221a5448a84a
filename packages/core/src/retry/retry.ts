import { type Clock, type Random, systemClock, systemRandom } from '../clock/clock.js';
import { isTransient } from '../errors/classify.js';
import { RetryExhaustedError } from '../errors/errors.js';
import { handles } from '../errors/handles.js';
import { retryAfterMs } from '../errors/retry-after.js';
import { type Disposer, Emitter, onType } from '../events/emitter.js';
import { type AttemptObserver, AttemptObservers, type AttemptRunner } from '../policy/attempts.js';
import { type ExecuteContext, invoke, neverAborted, PolicyBase, type PolicyFn } from '../policy/policy.js';
import { delayOf } from './backoff.js';
import { type ResolvedRetryOptions, type RetryOptions, resolveRetryOptions } from './options.js';

/** Why a retry policy stopped retrying. */
export type GiveUpReason = 'max_attempts' | 'not_handled' | 'aborted' | 'deadline' | 'budget' | 'retry_after';

export type RetryEvent =
  | { type: 'failure'; policy: string; attempt: number; error: unknown }
  | { type: 'retry'; policy: string; attempt: number; delayMs: number; error: unknown }
  | { type: 'give_up'; policy: string; attempts: number; reason: GiveUpReason; error: unknown }
  | { type: 'success'; policy: string; attempts: number };

export interface RetryStats {
  /** Calls of the user's function, first attempts included. */
  attempts: number;
  /** Retries made (attempts after a first). */
  retries: number;
  /** Milliseconds spent waiting between attempts. */
  totalDelayMs: number;
  /** Failures returned to callers, by reason. */
  giveUps: Record<GiveUpReason, number>;
}

const FIRST_ATTEMPT = { attempt: 1, delayMs: 0 } as const;

/** Retries a function on handled errors with backoff; see {@link RetryOptions}. */
export class RetryPolicy extends PolicyBase<RetryEvent> {
  readonly name: string;
  readonly #opts: ResolvedRetryOptions;
  readonly #handle: (error: unknown) => boolean;
  readonly #clock: Clock;
  readonly #random: Random;
  readonly #events = new Emitter<RetryEvent>();
  readonly #stats: RetryStats = {
    attempts: 0,
    retries: 0,
    totalDelayMs: 0,
    giveUps: { max_attempts: 0, not_handled: 0, aborted: 0, deadline: 0, budget: 0, retry_after: 0 },
  };

  readonly onEvent = this.#events.subscribe;
  readonly onRetry = onType(this.#events.subscribe, 'retry');
  readonly onGiveUp = onType(this.#events.subscribe, 'give_up');
  readonly onSuccess = onType(this.#events.subscribe, 'success');
  readonly onFailure = onType(this.#events.subscribe, 'failure');

  constructor(options: RetryOptions = {}) {
    super();
    this.#opts = resolveRetryOptions(options); // first: nothing is read of options it refuses
    this.#clock = options.clock ?? systemClock;
    this.#random = options.random ?? systemRandom;
    this.#handle = options.handle ?? isTransient;
    this.name = this.#opts.name;
    if (options.onRetry) this.onRetry(options.onRetry);
  }

  #attempts: AttemptObservers | undefined;

  /** Runs each attempt through `observer`'s runner (a span per attempt; see {@link AttemptObserver}). Returns a disposer. */
  observeAttempts(observer: AttemptObserver): Disposer {
    this.#attempts ??= new AttemptObservers();
    return this.#attempts.add(observer);
  }

  /** A copy of the counters since construction. */
  get stats(): RetryStats {
    return { ...this.#stats, giveUps: { ...this.#stats.giveUps } };
  }

  async run<T>(fn: PolicyFn<T>, context: ExecuteContext): Promise<T> {
    const first = context.attempt === 1 ? context : { signal: context.signal, attempt: 1 };
    const startedAt = this.#opts.deadlineMs === undefined ? 0 : this.#clock.now();
    this.#stats.attempts++;
    this.#opts.budget?.recordCall();
    const runner = this.#attempts?.callStarted();
    try {
      const value = await (runner === undefined ? fn(first) : runner(() => invoke(fn, first), FIRST_ATTEMPT));
      if (this.#events.hasListeners) this.#events.emit({ type: 'success', policy: this.name, attempts: 1 });
      return value;
    } catch (error) {
      return this.#retry(fn, first.signal, error, startedAt, runner);
    }
  }

  async #retry<T>(
    fn: PolicyFn<T>,
    signal: AbortSignal,
    firstError: unknown,
    startedAt: number,
    runner: AttemptRunner | undefined,
  ): Promise<T> {
    const { maxAttempts, backoff, deadlineMs, budget, retryAfterMaxMs } = this.#opts;
    let error = firstError;
    let previousDelay = 0;
    for (let attempt = 1; ; attempt++) {
      this.#emit({ type: 'failure', policy: this.name, attempt, error });
      let reason: GiveUpReason | undefined;
      let delayMs = 0;
      if (signal.aborted) reason = 'aborted';
      else if (!handles(this.#handle, error, 'retry')) reason = 'not_handled';
      else if (attempt >= maxAttempts) reason = 'max_attempts';
      else {
        delayMs = previousDelay = delayOf(backoff, attempt, previousDelay, this.#random);
        const serverDelay = retryAfterMaxMs === undefined ? undefined : retryAfterMs(error, this.#clock.now());
        if (serverDelay !== undefined) {
          if (serverDelay > retryAfterMaxMs!) reason = 'retry_after';
          // A random source that gives NaN adds no jitter rather than make the wait NaN (no wait).
          else delayMs = Math.max(delayMs, serverDelay + (this.#random() * Math.min(1_000, serverDelay * 0.1) || 0));
        }
        if (!reason && deadlineMs !== undefined && this.#clock.now() + delayMs - startedAt > deadlineMs) {
          reason = 'deadline';
        } else if (!reason && budget && !budget.tryRetry()) reason = 'budget';
      }
      if (reason) throw this.#giveUp(reason, attempt, error);

      this.#emit({ type: 'retry', policy: this.name, attempt, delayMs, error });
      const stats = this.#stats;
      const sleptAt = this.#clock.now();
      try {
        await this.#clock.sleep(delayMs, signal === neverAborted ? undefined : signal);
        stats.totalDelayMs += delayMs;
      } catch (abortReason) {
        // The caller left: no retry was made, so none is counted or taken from the budget.
        const waited = Math.max(0, this.#clock.now() - sleptAt);
        stats.totalDelayMs += waited;
        budget?.release?.(waited); // a budget of an older copy of core has none
        this.#giveUp('aborted', attempt, error);
        throw abortReason;
      }
      stats.retries++;
      stats.attempts++;
      try {
        const context = { signal, attempt: attempt + 1 };
        const value = await (runner === undefined
          ? fn(context)
          : runner(() => invoke(fn, context), { attempt: attempt + 1, delayMs }));
        this.#emit({ type: 'success', policy: this.name, attempts: attempt + 1 });
        return value;
      } catch (next) {
        error = next;
      }
    }
  }

  #giveUp(reason: GiveUpReason, attempts: number, error: unknown): unknown {
    this.#stats.giveUps[reason]++;
    this.#emit({ type: 'give_up', policy: this.name, attempts, reason, error });
    if (reason === 'max_attempts' || reason === 'deadline') {
      return new RetryExhaustedError(attempts, error, reason);
    }
    return error;
  }

  #emit(event: RetryEvent): void {
    if (this.#events.hasListeners) this.#events.emit(event);
  }
}

/**
 * A retry policy. `maxAttempts` counts every call, the first included.
 *
 * @example
 * const policy = retry({ maxAttempts: 4, backoff: backoff.exponential({ jitter: 'full' }) });
 * const body = await policy.execute(({ signal }) => fetch(url, { signal }).then((r) => r.json()));
 */
export function retry(options: RetryOptions = {}): RetryPolicy {
  return new RetryPolicy(options);
}
