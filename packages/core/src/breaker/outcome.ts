import { classify } from '../errors/classify.js';
import { BrokenCircuitError, IsolatedCircuitError, isOwnRejection } from '../errors/errors.js';
import type { CallOutcome } from './machine.js';
import type { BreakerStateName } from './options.js';

/**
 * How a settled call counts: `ignored` when the caller had aborted, `failure` when `handle`
 * answers `true` (or a promise, or throws), `ignored` for the toolkit's own rejections and cancellations, and
 * `success` otherwise (the dependency answered).
 */
export function outcomeOf(handle: (error: unknown) => boolean, error: unknown, aborted: boolean): CallOutcome {
  if (aborted) return 'ignored';
  try {
    const yes: unknown = handle(error);
    // A promise cannot be waited for here: counted as a throw is (its rejection handled).
    if (yes instanceof Promise) yes.catch(() => {});
    if (yes === true || yes instanceof Promise) return 'failure';
    return isOwnRejection(error) || classify(error) === 'cancelled' ? 'ignored' : 'success';
  } catch {
    return 'failure'; // `handle` threw, or the error cannot be read: the call failed all the same
  }
}

/** Frames kept in a rejection's stack trace. */
const STACK_FRAMES = 10;

/**
 * Builds a breaker's rejections cheaply: capturing a stack trace costs several µs, more than
 * the rest of a rejection, so only the first rejection of each round (one opening) captures
 * one, of at most {@link STACK_FRAMES} frames below `caller`, and the rejections after it in
 * the same round share its frames. Their message, `cause` options and stack text are built
 * once too, while the state and cause stay the same.
 */
export class Rejections {
  #round = -1;
  #frames = '';
  #state: BreakerStateName | undefined;
  #cause: unknown;
  #message = '';
  #options: { cause: unknown } | undefined;
  #stack = '';

  /** `caller` is the breaker method the rejection is thrown from: it and the frames above it are left out. */
  make(
    name: string,
    state: BreakerStateName,
    retryAfterMs: number,
    cause: unknown,
    round: number,
    caller: (...args: never[]) => unknown,
  ): BrokenCircuitError {
    const first = round !== this.#round;
    if (first || state !== this.#state || cause !== this.#cause) {
      this.#state = state;
      this.#cause = cause;
      this.#message = `Circuit breaker "${name}" is ${state}`;
      this.#options = cause === undefined ? undefined : { cause };
      this.#stack = '';
    }
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    let error: BrokenCircuitError;
    try {
      error =
        state === 'isolated'
          ? new IsolatedCircuitError(this.#message)
          : new BrokenCircuitError(this.#message, retryAfterMs, 'circuit_open', this.#options);
      if (first) {
        Error.stackTraceLimit = STACK_FRAMES;
        Error.captureStackTrace(error, caller);
        const stack = String(error.stack);
        const at = stack.indexOf('\n    at ');
        this.#frames = at === -1 ? '' : stack.slice(at);
        this.#round = round;
        this.#stack = `${error.name}: ${this.#message}${this.#frames}`;
        return error;
      }
    } finally {
      Error.stackTraceLimit = limit;
    }
    if (this.#stack === '') this.#stack = `${error.name}: ${this.#message}${this.#frames}`;
    error.stack = this.#stack;
    return error;
  }
}
