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
}

/**
 * The observers of one policy's calls. Each observer is told once per call however many
 * times it was added, and one that throws cannot change the call's outcome.
 */
export class CallObservers {
  #added: CallObserver[] = [];
  /** The distinct observers, rebuilt when one is added or removed, not per call. */
  #distinct: readonly CallObserver[] = [];

  get size(): number {
    return this.#distinct.length;
  }

  add(observer: CallObserver): Disposer {
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

  /** Runs `call`, telling every observer when it starts and how it settles. */
  async observe<T>(call: () => Promise<T>): Promise<T> {
    const observers = this.#distinct;
    const started = observers.map(startOf);
    try {
      const value = await call();
      settleAll(observers, started, true, undefined);
      return value;
    } catch (error) {
      settleAll(observers, started, false, error);
      throw error;
    }
  }

  #update(added: CallObserver[]): void {
    this.#added = added;
    this.#distinct = [...new Set(added)];
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
