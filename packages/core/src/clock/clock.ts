import { followAbort, unfollowAbort } from '../policy/abort-fanout.js';
import { LongTimer, MAX_TIMER_MS } from './long-timer.js';

/** An opaque handle returned by {@link Clock.setTimeout}. */
export type TimerHandle = { readonly __timer?: never } | object | number;

/**
 * The only way core code reads time or schedules work. Inject a `FakeClock`
 * (from `@resilience/core/testing`) in tests; production code uses {@link systemClock}.
 */
export interface Clock {
  /** Milliseconds since the Unix epoch (wall time; may be fractional on a fake clock). */
  now(): number;
  /**
   * Resolves after `ms` milliseconds. Rejects at once with `signal.reason` when the signal
   * aborts (or is already aborted); the timer is cleared and the listener removed.
   */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  /**
   * Schedules `callback` once after `ms` milliseconds — never earlier, however long the
   * delay (an infinite delay never fires); a delay that is not a number above 0 fires as
   * soon as possible.
   */
  setTimeout(callback: () => void, ms: number): TimerHandle;
  /** Cancels a timer; unknown or fired handles are ignored. */
  clearTimeout(handle: TimerHandle): void;
}

/** A source of uniformly distributed numbers in `[0, 1)`. */
export type Random = () => number;

/** The injectable default random source (`Math.random`). */
export const systemRandom: Random = () => Math.random();

/** Shared implementation of `sleep` over any clock's timers. */
export function sleepOn(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise<void>((resolve, reject) => {
    if (!signal) {
      clock.setTimeout(resolve, ms);
      return;
    }
    const follower = {
      handleEvent: () => {
        clock.clearTimeout(handle);
        reject(signal.reason);
      },
    };
    const handle = clock.setTimeout(() => {
      unfollowAbort(signal, follower);
      resolve();
    }, ms);
    followAbort(signal, follower);
  });
}

/**
 * The real clock: `Date.now()` and the global timers. Node fires a timer longer than
 * 2^31 − 1 ms (~24.8 days) after 1 ms; this clock chains such delays instead.
 */
export const systemClock: Clock = {
  now: () => Date.now(),
  sleep(ms, signal) {
    return sleepOn(systemClock, ms, signal);
  },
  setTimeout: (callback, ms) => (ms > MAX_TIMER_MS ? new LongTimer(callback, ms) : setTimeout(callback, ms)),
  clearTimeout: (handle) => {
    if (handle instanceof LongTimer) handle.clear();
    else clearTimeout(handle as ReturnType<typeof setTimeout>);
  },
};
