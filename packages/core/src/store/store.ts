// The Store contract: where stateful algorithms keep their state between calls.
//
// Every stateful algorithm in the toolkit (rate limits, idempotency records, message
// retry counters, saga logs) is a pure {@link Transition}: `(state | undefined, input, now)
// -> { state, output, ttlMs }` over a small JSON-serialisable state. A store applies one
// transition to one key atomically. The memory store does it in-process; a Redis store
// runs each operation below as ONE round trip (one `EVALSHA` of a Lua script chosen by the
// transition's `name`, with `params`, `input` and `now` passed as JSON arguments), so the
// same scenarios (the conformance suite in `@resilience/core/testing`) pass on both.

/** A value that survives `JSON.stringify` / `JSON.parse` unchanged. */
export type JsonValue = null | boolean | number | string | readonly JsonValue[] | { readonly [key: string]: JsonValue };

/** What a transition returns: the next state, the caller's output and the state's time-to-live. */
export interface TransitionResult<S, O> {
  /** The next state; `undefined` deletes the key. Never mutate the previous state in place. */
  readonly state: S | undefined;
  /** Returned to the caller of `apply` (not stored). */
  readonly output: O;
  /**
   * Milliseconds from `now` after which the key may be dropped (`PX` in Redis). Return the
   * time at which the state would be indistinguishable from "no state" (a full bucket, an
   * expired record) so idle keys cost nothing. `Infinity` keeps the key until deleted or
   * evicted.
   */
  readonly ttlMs: number;
  /**
   * `true` pins the key: a store that evicts keeps it until its TTL or a later write without
   * `pinned` (an in-flight lock), refusing with `StoreFullError` the write that would need its
   * room. See docs/stores.md.
   * @default false
   */
  readonly pinned?: boolean;
  /** `false` leaves the stored state and TTL untouched (a read-only step such as a peek). @default true */
  readonly write?: boolean;
  /**
   * `false` marks this step as refused. A single `apply` still writes the state; in
   * {@link Store.applyAll} one refused step means NO key is written (all-or-nothing).
   * @default true
   */
  readonly accepted?: boolean;
}

/**
 * A pure, deterministic state transition a store applies to one key: the same `name` and
 * `params` behave the same everywhere (a Redis store maps `name` to a script); `apply` reads
 * only its arguments; states and inputs are JSON, never mutated. See docs/stores.md.
 */
export interface Transition<S = JsonValue, I = JsonValue, O = unknown> {
  readonly name: string;
  readonly params: JsonValue;
  apply(state: S | undefined, input: I, now: number): TransitionResult<S, O>;
  /**
   * Optional fast path for in-process stores whose state is a fixed number of numbers.
   * Stores that do not know it (Redis) ignore it; it must agree with `apply` exactly.
   */
  readonly packed?: PackedTransition<S, I, O>;
}

/**
 * How a fixed-width numeric state is laid out in a `Float64Array`. Shared by every
 * transition over the same state (a limiter's consume and peek).
 */
export interface PackedCodec<S> {
  /** Numbers of state per key (at most {@link PACKED_MAX_WIDTH}). */
  readonly width: number;
  pack(state: S, into: Float64Array, offset: number): void;
  unpack(from: Float64Array, offset: number): S;
}

/** A transition over a fixed-width numeric state, stepped in place in a `Float64Array` slab. */
export interface PackedTransition<S, I, O> {
  readonly codec: PackedCodec<S>;
  /**
   * Reads the current state at `state[offset .. offset + width)` (ignored when `fresh`),
   * writes the next state to `next[0 .. width)`, `next[width]` = ttlMs (`NaN`: do not
   * write), `next[width + 1]` = 1 when accepted or 0 when refused, and returns the output.
   */
  step(state: Float64Array, offset: number, fresh: boolean, input: I, now: number, next: Float64Array): O;
}

/** The largest `width` of a {@link PackedCodec} the memory store keeps packed. */
export const PACKED_MAX_WIDTH = 3;

/** One step of {@link Store.applyAll}. */
// biome-ignore lint/suspicious/noExplicitAny: a batch mixes transitions of different types.
export interface StoreOperation<S = any, I = any, O = any> {
  readonly key: string;
  readonly transition: Transition<S, I, O>;
  readonly input: I;
}

/** Options of {@link Store.keys}. */
export interface StoreKeysOptions {
  /** Most keys returned. @default 1000 */
  readonly limit?: number;
}

/**
 * Keeps keyed state for algorithms: each method one atomic operation (one round trip when
 * networked). `now` is the caller's clock in ms, the origin of TTLs; an expired key reads as
 * absent. Keys are opaque, namespaced as docs/stores.md says.
 */
export interface Store {
  /**
   * Applies `transition` to the state of `key` atomically and resolves with its output.
   * Concurrent calls on one key are serialised: none sees a state another has not finished
   * writing.
   */
  apply<S, I, O>(key: string, transition: Transition<S, I, O>, input: I, now: number): Promise<O>;
  /**
   * Applies several transitions, each to its own distinct key, all-or-nothing: written only
   * if every step was accepted. Resolves with the outputs in order. On Redis the keys share
   * one hash tag (see `storeKey`).
   */
  applyAll(operations: readonly StoreOperation[], now: number): Promise<unknown[]>;
  /** The current state of `key`, or `undefined` when absent or expired. */
  get<S = JsonValue>(key: string, now: number): Promise<S | undefined>;
  /** Writes a state unconditionally with a TTL (`Infinity`: none). */
  set<S = JsonValue>(key: string, state: S, ttlMs: number, now: number): Promise<void>;
  /** Deletes `key`; resolves `true` when it existed. */
  delete(key: string): Promise<boolean>;
  /**
   * Live keys starting with `prefix`: exactly `limit` of them when that many exist, else all.
   * For recovery and admin views, not hot paths. See docs/stores.md.
   */
  keys(prefix: string, now: number, options?: StoreKeysOptions): Promise<string[]>;
  /**
   * Whether this store can apply the transition `name` configured by `params` atomically;
   * consumers ask at construction and refuse a store that cannot (see docs/stores.md).
   */
  supports?(name: string, params?: JsonValue): boolean;
  /** Pub/sub between the processes sharing the store, if it has one: a synchronised breaker announces its changes there. */
  readonly channel?: StoreChannel | undefined;
}

/** Publish/subscribe between the processes sharing a store (see {@link Store.channel}). */
export interface StoreChannel {
  /** Sends `message` to every subscriber of `topic`, in every process. */
  publish(topic: string, message: string): Promise<void>;
  /** Calls `listener` with each message on `topic` (this process's own too), `onError` if subscribing fails; returns the function that stops. */
  subscribe(topic: string, listener: (message: string) => void, onError?: (error: unknown) => void): () => void;
}

const STORE_METHODS = ['apply', 'applyAll', 'get', 'set', 'delete', 'keys'] as const;

/** Whether `value` has every method of {@link Store}: the option check of everything that takes a store. */
export function isStore(value: unknown): value is Store {
  return (
    typeof value === 'object' &&
    value !== null &&
    STORE_METHODS.every((m) => typeof (value as Record<string, unknown>)[m] === 'function')
  );
}
