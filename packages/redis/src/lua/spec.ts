import type { JsonValue } from '@resilience/core';

/**
 * How one transition runs in Redis: the Lua of its family, the step function, and how its
 * params, input and output cross the wire (ARGV strings in, one string reply out).
 */
export interface ScriptSpec {
  /**
   * Lua defining the step function and what it needs, after the common helpers, in parts: a
   * script holds each part once, and only the parts of its own transitions.
   */
  readonly libs: readonly string[];
  /** A Lua expression for the step: a function `(payload, ARGV, i)` reading its arguments from `ARGV[i]` on. */
  readonly step: string;
  /**
   * The Lua of the transition's own apply script on KEYS[1], after PRELUDE, when it runs
   * inline (no function, and no helper closure, built per call); else the step over
   * COMMON's `load` and `save`.
   */
  readonly apply?: string;
  /**
   * Decisions of this transition made together, in one script call (see RedisStore), when
   * its input is one argument (`arg`) and its reply a list of `width` values: `lua`, after
   * PRELUDE, applies it to KEYS[1..n] in turn (ARGV from 3 holds per key the caller's `now`
   * under `time: 'caller'`, then the params and the input) and answers one flat list: per
   * key the `width` values one call would answer (the first 0 or 1, which a client may give
   * as text: ioredis with stringNumbers), or the text of the Redis error that failed that
   * decision alone. `read` is `output` of the values from `at`.
   */
  readonly batch?: {
    readonly lua: string;
    readonly width: number;
    arg(input: unknown): string;
    read(replies: readonly unknown[], at: number): unknown;
  };
  /** The params as leading arguments, computed once per transition; `undefined` when the script cannot follow them. */
  params(params: JsonValue): string[] | undefined;
  /** The input as the following arguments. */
  input(input: unknown): string[];
  /** The transition's output from the script's reply (`null` for Lua `false`). */
  output(reply: unknown): unknown;
}

/** JSON text of a value; `''` for `undefined` (an absent optional field). */
export const text = (value: unknown): string => (value === undefined ? '' : JSON.stringify(value));

/** A JSON reply parsed; a nil reply is `undefined`. */
export const parsed = (reply: unknown): unknown =>
  reply === null || reply === undefined ? undefined : JSON.parse(String(reply));

/** Throws for a reply no script gives (a client or proxy in between answered something else): the call fails. */
export const odd = (reply: unknown): never => {
  throw new TypeError(`a reply no script gives: ${String(reply).slice(0, 40)}`);
};
