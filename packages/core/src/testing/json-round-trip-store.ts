import { withArticle } from '../errors/errors.js';
import { OptionsValidator } from '../errors/validate.js';
import {
  isStore,
  type JsonValue,
  type Store,
  type StoreKeysOptions,
  type StoreOperation,
  type Transition,
  type TransitionResult,
} from '../store/store.js';

/** A value that `JSON.stringify` would change or drop, described; `undefined` when it is plain JSON. */
function notJson(value: unknown, path: string): string | undefined {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return undefined;
    case 'number':
      return Number.isFinite(value) ? undefined : `${path} is ${value} (JSON writes null)`;
    case 'object': {
      if (value === null) return undefined;
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) {
          const item: unknown = value[i];
          const problem =
            item === undefined ? `${path}[${i}] is undefined (JSON writes null)` : notJson(item, `${path}[${i}]`);
          if (problem) return problem;
        }
        return undefined;
      }
      const proto = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) {
        return `${path} is ${withArticle((value as object).constructor?.name || 'class instance')}, not a plain object`;
      }
      for (const [key, item] of Object.entries(value)) {
        // An undefined property is dropped by JSON and reads back as undefined: harmless.
        const problem = item === undefined ? undefined : notJson(item, `${path}.${key}`);
        if (problem) return problem;
      }
      return undefined;
    }
    default:
      return `${path} is a ${typeof value}`;
  }
}

/** `value` as JSON text, or a `TypeError` naming what would not survive. `undefined` stays `undefined`. */
function encode(value: unknown, what: string): string | undefined {
  if (value === undefined) return undefined;
  const problem = notJson(value, what);
  if (problem) throw new TypeError(`jsonRoundTripStore: ${problem}, so it would not survive a networked store`);
  return JSON.stringify(value);
}

const decode = (json: string | undefined): unknown => (json === undefined ? undefined : JSON.parse(json));

/** A round trip: the operation runs on a later macrotask and its result arrives on another. */
function later<T>(operation: () => T | PromiseLike<T>): Promise<T> {
  const tick = () => new Promise<void>((resolve) => setImmediate(resolve));
  return tick()
    .then(operation)
    .then(
      async (result) => {
        await tick();
        return result;
      },
      async (error: unknown) => {
        await tick();
        throw error;
      },
    );
}

type Wrapped = Transition<string, string, string | undefined>;

/**
 * Wraps a store so that it behaves like a networked one: every call resolves on a later
 * macrotask and every value crosses JSON; a value JSON would change is rejected with a
 * `TypeError` naming where it is.
 *
 * @example
 * runStoreConformance('memoryStore over JSON', () => jsonRoundTripStore(memoryStore()), { describe, it });
 */
export function jsonRoundTripStore(inner: Store): Store {
  new OptionsValidator('jsonRoundTripStore').check(isStore(inner), 'store', inner, 'a Store').done();
  // One wrapper per transition, so the inner store sees a stable object per transition.
  const wrappers = new WeakMap<object, Wrapped>();
  const wrap = <S, I, O>(transition: Transition<S, I, O>): Wrapped => {
    let wrapped = wrappers.get(transition);
    if (wrapped === undefined) {
      const name = transition.name;
      encode(transition.params, `${name} params`);
      wrapped = {
        name,
        params: transition.params,
        apply(state, input, now): TransitionResult<string, string | undefined> {
          const r = transition.apply(decode(state) as S | undefined, JSON.parse(input) as I, now);
          return {
            state: encode(r.state, `the state of ${name}`),
            output: encode(r.output, `the output of ${name}`),
            ttlMs: r.ttlMs,
            ...(r.write === undefined ? {} : { write: r.write }),
            ...(r.accepted === undefined ? {} : { accepted: r.accepted }),
            ...(r.pinned === undefined ? {} : { pinned: r.pinned }),
          };
        },
      };
      wrappers.set(transition, wrapped);
    }
    return wrapped;
  };
  const input = (transition: Transition<unknown, unknown, unknown>, value: unknown) =>
    encode(value, `the input of ${transition.name}`) ?? 'null';

  return {
    apply<S, I, O>(key: string, transition: Transition<S, I, O>, value: I, now: number): Promise<O> {
      return later(async () => {
        const t = transition as Transition<unknown, unknown, unknown>;
        return decode(await inner.apply(key, wrap(t), input(t, value), now)) as O;
      });
    },
    applyAll(operations: readonly StoreOperation[], now: number): Promise<unknown[]> {
      return later(async () => {
        const wrapped = operations.map((op) => ({
          key: op.key,
          transition: wrap(op.transition),
          input: input(op.transition, op.input),
        }));
        const outputs = await inner.applyAll(wrapped, now);
        return outputs.map((o) => decode(o as string | undefined));
      });
    },
    get<S>(key: string, now: number): Promise<S | undefined> {
      return later(async () => decode(await inner.get<string>(key, now)) as S | undefined);
    },
    set<S>(key: string, state: S, ttlMs: number, now: number): Promise<void> {
      return later(() => inner.set(key, encode(state, `the state set at ${key}`), ttlMs, now));
    },
    delete(key: string): Promise<boolean> {
      return later(() => inner.delete(key));
    },
    keys(prefix: string, now: number, options?: StoreKeysOptions): Promise<string[]> {
      return later(() => inner.keys(prefix, now, options));
    },
    ...(inner.supports === undefined
      ? {}
      : { supports: (name: string, params?: JsonValue) => inner.supports?.(name, params) === true }),
  };
}
