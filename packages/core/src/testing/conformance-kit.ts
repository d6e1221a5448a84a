import { FakeClock } from '../clock/fake-clock.js';
import { withArticle } from '../errors/errors.js';
import type { Store } from '../store/store.js';

/** Makes a fresh, empty store for one scenario. */
export type StoreFactory = () => Store | Promise<Store>;

/** One scenario of the store contract: throws (rejects) when the store gets it wrong. */
export interface StoreScenario {
  readonly name: string;
  run(makeStore: StoreFactory): Promise<void>;
}

export function fail(message: string): never {
  throw new Error(`store conformance: ${message}`);
}

/**
 * JSON with object keys sorted, so two values compare equal whatever order a store built
 * their objects in (a Lua `cjson` store does not keep key order). `undefined` properties
 * are dropped, as JSON drops them; a top-level `undefined` reads `"undefined"`.
 */
export function canonical(value: unknown): string {
  const json = JSON.stringify(value, (_key, v: unknown) => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
    const sorted: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) sorted[k] = (v as Record<string, unknown>)[k];
    return sorted;
  });
  return json ?? 'undefined';
}

/** Fails with `what` unless `actual` and `expected` are the same JSON (key order ignored). */
export function same(actual: unknown, expected: unknown, what: string): void {
  const a = canonical(actual);
  const e = canonical(expected);
  if (a !== e) fail(`${what}: expected ${e}, received ${a}`);
}

/** Fails with `what` unless `operation` rejects with an instance of `type`. */
export async function rejects(operation: () => Promise<unknown>, type: new (...args: never[]) => Error, what: string) {
  let outcome = 'resolved';
  try {
    await operation();
  } catch (error) {
    if (error instanceof type) return;
    outcome = `rejected with ${String(error)}`;
  }
  fail(`${what}: expected ${withArticle(type.name)}, but it ${outcome}`);
}

/** A scenario's store and a FakeClock; `at(t)` moves the clock to `t` ms and returns the new `now`. */
export interface Timeline {
  readonly store: Store;
  readonly clock: FakeClock;
  at(t: number): Promise<number>;
}

export async function timelineOn(makeStore: StoreFactory): Promise<Timeline> {
  const clock = new FakeClock(0);
  const store = await makeStore();
  return {
    store,
    clock,
    async at(t) {
      if (t < clock.now()) fail(`timeline goes back in time (${t} ms < ${clock.now()} ms)`);
      await clock.advance(t - clock.now());
      return clock.now();
    },
  };
}
