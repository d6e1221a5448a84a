import { worseBreakerState } from '../breaker/registry.js';
import { ownKey } from './window.js';

/** Stands for a breaker known only by its name (a `recordStateChange` without one). */
const BY_NAME = '';

/**
 * The last state each breaker reported, by name, reported per name as the worst state of
 * the live breakers sharing it (as `breakerRegistry.list()` does), so an open breaker never
 * hides behind a closed one of the same name. Breakers are held through `WeakRef`s: one that
 * is garbage-collected leaves, and a name none of whose breakers lives leaves with it.
 * At most `maxNames` names; each keeps one entry per live breaker.
 */
export class CircuitStates {
  readonly #maxNames: number;
  readonly #names = new Map<string, Map<WeakRef<object> | typeof BY_NAME, string>>();
  readonly #refs = new WeakMap<object, WeakRef<object>>();

  constructor(maxNames: number) {
    this.#maxNames = maxNames;
  }

  set(name: string, state: string, breaker: object | undefined): void {
    const key = ownKey(name);
    let states = this.#names.get(key);
    if (states === undefined) {
      if (this.#names.size >= this.#maxNames) return;
      this.#names.set(key, (states = new Map()));
    } else {
      sweep(states);
    }
    let ref: WeakRef<object> | typeof BY_NAME = BY_NAME;
    if (breaker !== undefined) {
      ref = this.#refs.get(breaker) ?? new WeakRef(breaker);
      this.#refs.set(breaker, ref);
    }
    states.set(ref, ownKey(state));
  }

  /** Each name with the worst state among its live breakers. */
  toJSON(): Record<string, string> {
    const result: Record<string, string> = {};
    for (const [name, states] of this.#names) {
      sweep(states);
      if (states.size === 0) {
        this.#names.delete(name);
        continue;
      }
      let worst: string | undefined;
      for (const state of states.values()) worst = worst === undefined ? state : worseBreakerState(worst, state);
      result[name] = worst!;
    }
    return result;
  }

  clear(): void {
    this.#names.clear();
  }
}

/** Drops the entries of breakers that were garbage-collected. */
function sweep(states: Map<WeakRef<object> | typeof BY_NAME, string>): void {
  for (const ref of states.keys()) if (ref !== BY_NAME && ref.deref() === undefined) states.delete(ref);
}
