import type { Disposer, Subscribe } from '../events/emitter.js';
import { type CallObserver, CallObservers } from './calls.js';

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
 * inside `pipeline(...)`. `R`: what it may resolve with instead (a fallback's substitute).
 */
export interface Policy<E extends PolicyEvent = PolicyEvent, R = never> {
  readonly name: string;
  /** Runs `fn` under the policy; `signal` cancels waits and reaches `fn`. */
  execute<T>(fn: PolicyFn<T>, signal?: AbortSignal): Promise<T | R>;
  /** Runs `fn` under the policy with an existing context (used by pipelines). */
  run<T>(fn: PolicyFn<T>, context: ExecuteContext): Promise<T | R>;
  /** A function with `fn`'s parameters that calls it under the policy. */
  wrap<A extends unknown[], T>(fn: (...args: A) => T | PromiseLike<T>): (...args: A) => Promise<Awaited<T> | R>;
  /** Every event of this policy (and, for a pipeline, of every layer). */
  readonly onEvent: Subscribe<E>;
}

/**
 * The shared half of every policy: `execute` and `wrap` in terms of the policy's own `run`.
 * Extend it and implement `name`, `run` and `onEvent`.
 */
export abstract class PolicyBase<E extends PolicyEvent = PolicyEvent, R = never> implements Policy<E, R> {
  /**
   * Type-only, absent at run time: what this policy may resolve with instead of the
   * function's result. `pipeline(...)` reads it to type its own result.
   */
  declare readonly '~substitute': R;
  abstract readonly name: string;
  abstract readonly onEvent: Subscribe<E>;
  abstract run<T>(fn: PolicyFn<T>, context: ExecuteContext): Promise<T | R>;

  #calls: CallObservers | undefined;

  execute<T>(fn: PolicyFn<T>, signal?: AbortSignal): Promise<T | R> {
    if (typeof fn !== 'function' || (signal !== undefined && !isAbortSignal(signal))) {
      return Promise.reject(callError(`${this.name}.execute`, fn, signal));
    }
    if (signal?.aborted) return Promise.reject(signal.reason); // the caller has gone: no call at all
    const calls = this.#calls;
    try {
      if (calls !== undefined && calls.size > 0) return calls.observe(() => this.run(fn, contextFor(signal)));
      return this.run(fn, contextFor(signal));
    } catch (error) {
      // A callback of the options threw (hedge's delayMs, a timeout's ms): a rejection, never a throw.
      return Promise.reject(error);
    }
  }

  /** Tells `observer` of each call through `execute` or `wrap`, start to settlement; a pipeline's layer tells its pipeline's observers. */
  observeCalls(observer: CallObserver): Disposer {
    this.#calls ??= new CallObservers();
    return this.#calls.add(observer);
  }

  wrap<A extends unknown[], T>(fn: (...args: A) => T | PromiseLike<T>): (...args: A) => Promise<Awaited<T> | R> {
    if (typeof fn !== 'function') throw callError(`${this.name}.wrap`, fn, 0);
    return (...args) => this.execute(() => fn(...args)) as Promise<Awaited<T> | R>;
  }
}

/** Calls `fn` with `context`, turning a synchronous throw into a rejection. */
export function invoke<T>(fn: PolicyFn<T>, context: ExecuteContext): Promise<T> {
  try {
    return Promise.resolve(fn(context));
  } catch (error) {
    return Promise.reject(error);
  }
}

// Module-level values are built by calls marked /* @__PURE__ */, so a bundle that does not
// use them drops them (`new X().signal` alone would stay in every bundle).
const signalOfNewController = (): AbortSignal => new AbortController().signal;

/** A signal that never aborts, shared by every call made without one (no allocation). */
export const neverAborted: AbortSignal = /* @__PURE__ */ signalOfNewController();

/** The context of a first call made without a signal: shared, allocation-free. */
export const rootContext: ExecuteContext = /* @__PURE__ */ Object.freeze({ signal: neverAborted, attempt: 1 });

/** Whether `signal` is an AbortSignal, checked by shape so one from another realm or a polyfill passes. */
export const isAbortSignal = (signal: unknown): signal is AbortSignal =>
  typeof (signal as AbortSignal | null)?.aborted === 'boolean' &&
  typeof (signal as AbortSignal).addEventListener === 'function';

/** The context for `execute(fn, signal)`. */
export const contextFor = (signal: AbortSignal | undefined): ExecuteContext =>
  signal === undefined ? rootContext : { signal, attempt: 1 };

// A policy given for `fn` (`retry.execute(timeout(5_000))`) is said as such, with how to combine them.
const kind = (value: unknown): string =>
  value === null
    ? 'null'
    : Array.isArray(value)
      ? 'an array'
      : typeof value === 'object' && typeof (value as { run?: unknown }).run === 'function'
        ? 'a policy: combine policies with pipeline(outer, inner)'
        : typeof value;

/** The `TypeError` for a call whose `fn` is not a function or whose `signal` is not an AbortSignal. */
export function callError(call: string, fn: unknown, signal: unknown): TypeError {
  return typeof fn !== 'function'
    ? new TypeError(`${call}: fn: expected a function, received ${kind(fn)}`)
    : new TypeError(`${call}: signal: expected an AbortSignal or undefined, received ${kind(signal)}`);
}
