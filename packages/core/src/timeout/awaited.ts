import { processWide } from '../events/process-wide.js';

/**
 * The abort reasons of time limits that still wait for the work they stopped (a cooperative
 * timeout, the soft limit of a pair): a fallback inside gives its substitute for these, since
 * its caller still takes an answer. A limit that answered already (aggressive, a hard limit, a
 * health check's) leaves its reason out, as a caller's cancel is. A limit whose caller aborted
 * with another waiting limit's reason waits as long as that one does (the value: the reason it
 * depends on, or `true`). One map for every copy of core loaded (ESM and CJS), as the error
 * brand is.
 */
export const awaitedReasons = (): WeakMap<object, object | true> =>
  processWide('@resilience/core:awaited', () => new WeakMap());

/**
 * Whether `reason` is the abort reason of a time limit that still waits, itself and every limit
 * it depends on. The walk is bounded (nesting is shallow): a cycle, which callers that forward
 * one another's reasons could make, reads as no wait.
 */
export function isAwaited(reason: unknown): boolean {
  const marks = awaitedReasons();
  let mark = marks.get(reason as object);
  for (let depth = 0; depth < 32 && mark !== undefined && mark !== true; depth++) mark = marks.get(mark);
  return mark === true;
}
