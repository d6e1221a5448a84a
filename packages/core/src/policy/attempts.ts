import { ObserverList, runThrough, type Wrapper } from './calls.js';

/** What a retry or hedge policy tells an {@link AttemptObserver} of one attempt. */
export interface AttemptInfo {
  /** 1 for a call's first attempt, 2 for its first retry or hedge, ... */
  readonly attempt: number;
  /**
   * Milliseconds the policy waited before starting this attempt: a retry's backoff, a
   * hedge's delay; 0 for a first attempt and for a hedge a failure started at once.
   */
  readonly delayMs: number;
}

/** Runs one attempt: calls `run` once and returns its promise (or one settled the same way). */
export type AttemptRunner = <T>(run: () => Promise<T>, info: AttemptInfo) => Promise<T>;

/**
 * Told of a retry or hedge policy's attempts (`policy.observeAttempts(observer)`):
 * `callStarted`, in the caller's async context, returns the runner of that call's attempts.
 */
export interface AttemptObserver {
  callStarted(): AttemptRunner;
}

/**
 * The attempt observers of one policy. Each is told once per call however many times it
 * was added; one that throws cannot change an attempt or the call.
 */
export class AttemptObservers extends ObserverList<AttemptObserver> {
  /** The runner of one call's attempts: undefined while nobody observes (no allocation). */
  callStarted(): AttemptRunner | undefined {
    const observers = this.distinct;
    if (observers.length === 0) return undefined;
    const runners: AttemptRunner[] = [];
    for (const observer of observers) {
      try {
        runners.push(observer.callStarted());
      } catch {
        // An observer must not change the call it observes.
      }
    }
    return (run, info) =>
      runThrough(
        runners.map(
          (runner): Wrapper =>
            (next) =>
              runner(next, info),
        ),
        run,
      );
  }
}
