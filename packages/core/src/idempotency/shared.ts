import type { Clock, TimerHandle } from '../clock/clock.js';
import { followAbort, unfollowAbort } from '../policy/abort-fanout.js';
import type { IdempotentResult } from './idempotency.js';

/** A call in flight in this process, shared by the callers with its key that arrive while it runs. */
export interface LocalCall {
  readonly fp: string | null;
  readonly promise: Promise<IdempotentResult<unknown>>;
  /** When its lock on the key runs out: callers sharing it stop waiting then, as another process would. */
  readonly until: number;
  /** The first caller's signal: its abort ends its own wait on another process, not its sharers'. */
  readonly signal?: AbortSignal | undefined;
  /** Resolves at `until`: one timer per call, armed by its first sharer, cleared when it settles. */
  expired?: Promise<void>;
  timer?: TimerHandle;
}

/** Clears the lock timer of a call that settled. */
export function settled(call: LocalCall, clock: Clock): void {
  if (call.timer !== undefined) clock.clearTimeout(call.timer);
}

/**
 * Waits for a shared call: resolves with its result (or rejects with its error),
 * resolves `undefined` once its lock ran out (the caller may then take the key, as a
 * caller in another process would), and rejects with the signal's reason when the
 * caller's own signal aborts.
 */
export function waitFor(
  call: LocalCall,
  clock: Clock,
  signal: AbortSignal | undefined,
): Promise<IdempotentResult<unknown> | undefined> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  call.expired ??= new Promise<void>((resolve) => {
    call.timer = clock.setTimeout(resolve, Math.max(0, call.until - clock.now()));
  });
  const expired = call.expired;
  if (!signal) return Promise.race([call.promise, expired.then(() => undefined)]);
  return new Promise((resolve, reject) => {
    // One listener on the signal however many calls share it (no MaxListenersExceededWarning).
    const follower = { handleEvent: () => reject(signal.reason) };
    followAbort(signal, follower);
    const done = () => unfollowAbort(signal, follower);
    call.promise.then(
      (result) => {
        done();
        resolve(result);
      },
      (error: unknown) => {
        done();
        reject(error);
      },
    );
    expired.then(() => {
      done();
      resolve(undefined);
    });
  });
}
