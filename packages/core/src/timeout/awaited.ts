/**
 * The abort reasons of time limits that still wait for the work they stopped (a cooperative
 * timeout, the soft limit of a pair): a fallback inside gives its substitute for these, since
 * its caller still takes an answer. A limit that answered already (aggressive, a hard limit, a
 * health check's) leaves its reason out, as a caller's cancel is. One set for every copy of
 * core loaded (ESM and CJS), as the error brand is.
 */
export const awaitedReasons = (): WeakSet<object> =>
  ((globalThis as Record<symbol, WeakSet<object>>)[Symbol.for('@resilience/core:awaited')] ??= new WeakSet());
