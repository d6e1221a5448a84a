import { worseBreakerState } from '../breaker/registry.js';
import { cutName, ownKey } from './names.js';

/** Stands for a breaker known only by its name (a `recordStateChange` without one). */
const BY_NAME = '';

/**
 * A name's breakers and their last states, flat: `[breaker, state, breaker, state, …]`,
 * each breaker a `WeakRef` or {@link BY_NAME}. Most names have one breaker: two slots, where
 * a `Map` would cost three times the memory.
 */
type Entries = Array<WeakRef<object> | string>;

/**
 * The last state each breaker reported, by name, reported per name as the worst state of
 * the live breakers sharing it (as `breakerRegistry.list()` does), so an open breaker never
 * hides behind a closed one of the same name. Breakers are held through `WeakRef`s: one that
 * is garbage-collected leaves, and a name none of whose breakers lives leaves with it.
 * At most `maxNames` names; each keeps one entry per live breaker.
 */
export class CircuitStates {
  readonly #maxNames: number;
  readonly #names = new Map<string, Entries>();

  constructor(maxNames: number) {
    this.#maxNames = maxNames;
  }

  /** Remembers `state` for `breaker` (or for the name alone); `own` makes the key to store from a new name. */
  set(name: string, state: string, breaker: object | undefined, own: (key: string) => string = ownKey): void {
    const key = cutName(name);
    state = ownKey(state);
    const entries = this.#names.get(key);
    if (entries === undefined) {
      if (this.#names.size < this.#maxNames) this.#names.set(own(name), [refTo(breaker), state]);
      return;
    }
    sweep(entries);
    for (let i = 0; i < entries.length; i += 2) {
      const ref = entries[i]!;
      if (breaker === undefined ? ref === BY_NAME : ref !== BY_NAME && (ref as WeakRef<object>).deref() === breaker) {
        entries[i + 1] = state;
        return;
      }
    }
    entries.push(refTo(breaker), state);
  }

  /** The stored key equal to `name` (cut), to share: `undefined` when no breaker of that name is known. */
  find(name: string): string | undefined {
    const key = cutName(name);
    for (const stored of this.#names.keys()) if (stored === key) return stored;
    return undefined;
  }

  /** Each name with the worst state among its live breakers. */
  toJSON(): Record<string, string> {
    const result: Record<string, string> = Object.create(null);
    for (const [name, entries] of this.#names) {
      sweep(entries);
      if (entries.length === 0) {
        this.#names.delete(name);
        continue;
      }
      let worst = entries[1] as string;
      for (let i = 3; i < entries.length; i += 2) worst = worseBreakerState(worst, entries[i] as string);
      result[name] = worst;
    }
    return result;
  }

  clear(): void {
    this.#names.clear();
  }
}

const refTo = (breaker: object | undefined): WeakRef<object> | typeof BY_NAME =>
  breaker === undefined ? BY_NAME : new WeakRef(breaker);

/** Drops the entries of breakers that were garbage-collected, in place. */
function sweep(entries: Entries): void {
  let kept = 0;
  for (let i = 0; i < entries.length; i += 2) {
    const ref = entries[i]!;
    if (ref !== BY_NAME && (ref as WeakRef<object>).deref() === undefined) continue;
    entries[kept++] = ref;
    entries[kept++] = entries[i + 1]!;
  }
  entries.length = kept;
}
