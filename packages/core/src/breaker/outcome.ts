import { classify } from '../errors/classify.js';
import { BrokenCircuitError, IsolatedCircuitError, isOwnRejection } from '../errors/errors.js';
import type { CallOutcome } from './machine.js';
import type { BreakerStateName } from './options.js';

/**
 * How a settled call counts: `ignored` when the caller had aborted, `failure` when `handle`
 * accepts the error, `ignored` for the toolkit's own rejections and cancellations, and
 * `success` otherwise (the dependency answered).
 */
export function outcomeOf(handle: (error: unknown) => boolean, error: unknown, aborted: boolean): CallOutcome {
  if (aborted) return 'ignored';
  if (handle(error)) return 'failure';
  return isOwnRejection(error) || classify(error) === 'cancelled' ? 'ignored' : 'success';
}

/** The rejection of a call, built without a stack trace: an open breaker must reject cheaply. */
export function rejection(name: string, state: BreakerStateName, retryAfterMs: number): BrokenCircuitError {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return state === 'isolated'
      ? new IsolatedCircuitError(`Circuit breaker "${name}" is isolated`)
      : new BrokenCircuitError(`Circuit breaker "${name}" is ${state}`, retryAfterMs);
  } finally {
    Error.stackTraceLimit = limit;
  }
}
