import type { Subscribe } from '../events/emitter.js';

/** What a policy passes to the user's function. */
export interface ExecuteContext {
  /** Aborted when the caller cancels or a policy (timeout, hedging) gives up on this call. */
  readonly signal: AbortSignal;
  /** 1 for the first call, incremented by each retry. */
  readonly attempt: number;
}

/** The user's function under a policy. */
export type PolicyFn<T> = (context: ExecuteContext) => T | PromiseLike<T>;

/** Every event a policy reports carries its type and the name of the policy. */
export interface PolicyEvent {
  readonly type: string;
  readonly policy: string;
}

/**
 * The shape every policy shares. `execute` is for callers; `run` is how policies nest
 * inside `pipeline(...)`, passing one context (signal and attempt) down the chain.
 */
export interface Policy<E extends PolicyEvent = PolicyEvent> {
  readonly name: string;
  /** Runs `fn` under the policy. `signal` cancels waits and is passed to `fn`. */
  execute<T>(fn: PolicyFn<T>, signal?: AbortSignal): Promise<T>;
  /** Runs `fn` under the policy with an existing context (used by pipelines). */
  run<T>(fn: PolicyFn<T>, context: ExecuteContext): Promise<T>;
  /** A function with `fn`'s parameters that calls it under the policy. */
  wrap<A extends unknown[], R>(fn: (...args: A) => R | PromiseLike<R>): (...args: A) => Promise<Awaited<R>>;
  /** Every event of this policy (and, for a pipeline, of every layer). */
  readonly onEvent: Subscribe<E>;
}

/**
 * The shared half of every policy: `execute` and `wrap` in terms of the policy's own `run`.
 * Extend it and implement `name`, `run` and `onEvent`.
 */
export abstract class PolicyBase<E extends PolicyEvent = PolicyEvent> implements Policy<E> {
  abstract readonly name: string;
  abstract readonly onEvent: Subscribe<E>;
  abstract run<T>(fn: PolicyFn<T>, context: ExecuteContext): Promise<T>;

  execute<T>(fn: PolicyFn<T>, signal?: AbortSignal): Promise<T> {
    if (typeof fn !== 'function' || (signal !== undefined && !isAbortSignal(signal))) {
      return Promise.reject(callError(`${this.name}.execute`, fn, signal));
    }
    return this.run(fn, contextFor(signal));
  }

  wrap<A extends unknown[], R>(fn: (...args: A) => R | PromiseLike<R>): (...args: A) => Promise<Awaited<R>> {
    return (...args) => this.execute(() => fn(...args)) as Promise<Awaited<R>>;
  }
}

/** A signal that never aborts, shared by every call made without one (no allocation). */
export const neverAborted: AbortSignal = new AbortController().signal;

/** The context of a first call made without a signal: shared, allocation-free. */
export const rootContext: ExecuteContext = Object.freeze({ signal: neverAborted, attempt: 1 });

/** Whether `signal` is an AbortSignal, checked by shape so one from another realm or a polyfill passes. */
export const isAbortSignal = (signal: unknown): signal is AbortSignal =>
  typeof (signal as AbortSignal | null)?.aborted === 'boolean' &&
  typeof (signal as AbortSignal).addEventListener === 'function';

/** The context for `execute(fn, signal)`. */
export const contextFor = (signal: AbortSignal | undefined): ExecuteContext =>
  signal === undefined ? rootContext : { signal, attempt: 1 };

const kind = (value: unknown): string => (value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value);

/** The `TypeError` for a call whose `fn` is not a function or whose `signal` is not an AbortSignal. */
export function callError(call: string, fn: unknown, signal: unknown): TypeError {
  return typeof fn !== 'function'
    ? new TypeError(`${call}: fn: expected a function (context) => value, received ${kind(fn)}`)
    : new TypeError(`${call}: signal: expected an AbortSignal or undefined, received ${kind(signal)}`);
}
