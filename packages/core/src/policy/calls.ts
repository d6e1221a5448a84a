import type { Disposer } from '../events/emitter.js';

/**
 * Told of each call made through a policy's `execute` (or `wrap`): once as it starts, once
 * as it settles. A `metrics()` collector is one; `observe` registers it.
 */
export interface CallObserver {
  /** A call started; what this returns (its start time) comes back in `callSettled`. */
  callStarted(): number;
  /** The call that started at `startedAt` resolved (`ok`) or rejected with `error`. */
  callSettled(startedAt: number, ok: boolean, error: unknown): void;
  /**
   * Optional: runs the call — calls `call` once and returns its promise — so the observer
   * can run it inside a context of its own (a tracing span made active): the policy's
   * attempts and the function run in it. Told between `callStarted` and `callSettled`; with
   * several observers, the first added runs outermost.
   */
  runCall?<T>(call: () => Promise<T>): Promise<T>;
}

/**
 * Observers added with a disposer each. An observer added twice is listed once until both
 * additions are disposed; the list is rebuilt when one is added or removed, not per call.
 */
export class ObserverList<O> {
  #added: O[] = [];
  /** The distinct observers, in the order they were first added. */
  protected distinct: readonly O[] = [];

  get size(): number {
    return this.distinct.length;
  }

  add(observer: O): Disposer {
    if (typeof observer !== 'object' || observer === null) throw new TypeError('expected a call observer');
    this.#update([...this.#added, observer]);
    let added = true;
    return () => {
      if (!added) return;
      added = false;
      const rest = [...this.#added];
      rest.splice(rest.lastIndexOf(observer), 1);
      this.#update(rest);
    };
  }

  /** Called after the list changed. */
  protected changed(): void {}

  #update(added: O[]): void {
    this.#added = added;
    this.distinct = [...new Set(added)];
    this.changed();
  }
}

/**
 * The observers of one policy's calls. Each observer is told once per call however many
 * times it was added, and one that throws cannot change the call's outcome.
 */
export class CallObservers extends ObserverList<CallObserver> {
  /** The `runCall` of each observer that has one. */
  #runners: readonly Wrapper[] = [];

  /** Runs `call`, telling every observer when it starts and how it settles. */
  async observe<T>(call: () => Promise<T>): Promise<T> {
    const observers = this.distinct;
    const started = observers.map(startOf);
    const runners = this.#runners;
    try {
      const value = await (runners.length === 0 ? call() : runThrough(runners, call));
      settleAll(observers, started, true, undefined);
      return value;
    } catch (error) {
      settleAll(observers, started, false, error);
      throw error;
    }
  }

  protected override changed(): void {
    this.#runners = this.distinct
      .filter((o) => typeof o.runCall === 'function')
      .map(
        (o): Wrapper =>
          (call) =>
            o.runCall!(call),
      );
  }
}

/** Runs a call it is given (once) and returns its promise: an observer's `runCall`. */
export type Wrapper = <T>(call: () => Promise<T>) => Promise<T>;

/** Runs `call` through `wrappers[i]` and the ones after it, the first outermost (see {@link runOnce}). */
export function runThrough<T>(wrappers: readonly Wrapper[], call: () => Promise<T>, i = 0): Promise<T> {
  if (i >= wrappers.length) return call();
  return runOnce(wrappers[i]!, () => runThrough(wrappers, call, i + 1));
}

/**
 * Runs `call` through `wrapper`. A wrapper that throws cannot stop the call or run it
 * twice: the call runs (once) and its own promise is returned.
 */
function runOnce<T>(wrapper: Wrapper, call: () => Promise<T>): Promise<T> {
  let running: Promise<T> | undefined;
  const once = (): Promise<T> => {
    if (running === undefined) {
      try {
        running = call();
      } catch (error) {
        running = Promise.reject(error);
      }
    }
    return running;
  };
  try {
    return wrapper(once);
  } catch {
    return once();
  }
}

function startOf(observer: CallObserver): number {
  try {
    return observer.callStarted();
  } catch {
    return Number.NaN;
  }
}

function settleAll(observers: readonly CallObserver[], started: readonly number[], ok: boolean, error: unknown): void {
  observers.forEach((observer, i) => {
    try {
      observer.callSettled(started[i]!, ok, error);
    } catch {
      // An observer must not change the outcome of the call it observes.
    }
  });
}
