import { isTransient } from './classify.js';
import { isOwnRejection, isResilienceError } from './errors.js';

/** Decides whether a policy handles (retries, counts, falls back on) an error. */
export interface ErrorFilter {
  (error: unknown): boolean;
  /** Handles what either filter handles. */
  or(other: (error: unknown) => boolean): ErrorFilter;
  /** Handles what both filters handle. */
  and(other: (error: unknown) => boolean): ErrorFilter;
  /** Handles what this filter does not; with `other`, what this one does and `other` does not. */
  not(other?: (error: unknown) => boolean): ErrorFilter;
  /**
   * Handles the toolkit's own rejections too (open breaker, full bulkhead, rate-limit
   * refusal: `isOwnRejection`). A retry under it waits out an open breaker's `retryAfterMs`.
   */
  orOwnRejections(): ErrorFilter;
}

type ErrorClass = abstract new (...args: never[]) => unknown;

function filter(predicate: (error: unknown) => boolean): ErrorFilter {
  const f = ((error: unknown) => predicate(error)) as ErrorFilter;
  f.or = (other) => filter((e) => predicate(e) || other(e));
  f.and = (other) => filter((e) => predicate(e) && other(e));
  f.not = (other) => filter(other ? (e) => predicate(e) && !other(e) : (e) => !predicate(e));
  f.orOwnRejections = () => filter((e) => predicate(e) || isOwnRejection(e));
  return f;
}

/**
 * Builders of error filters, combinable with `.or`, `.and`, `.not` and `.orOwnRejections`.
 * The catch-alls (`all`, `transient`) leave out the toolkit's own rejections (open breaker,
 * full bulkhead, rate-limit refusal): a policy that refused a call has already decided, so
 * retrying or counting its refusal is asked for by name — `.orOwnRejections()`,
 * `handle.errors(BrokenCircuitError)` or a predicate.
 */
export const handle = {
  /** Every error except the toolkit's own rejections; add them with `.orOwnRejections()`. */
  all: (): ErrorFilter => filter((e) => !isOwnRejection(e)),
  /** Errors retrying may fix (see `isTransient`); never the toolkit's own rejections. */
  transient: (): ErrorFilter => filter(isTransient),
  /** Instances of the given classes (and the toolkit's errors of the same code). */
  errors: (...classes: ErrorClass[]): ErrorFilter =>
    filter((e) =>
      classes.some(
        (C) =>
          e instanceof C ||
          (isResilienceError(e) &&
            typeof (C as { prototype?: unknown }).prototype === 'object' &&
            (C as unknown as { name: string }).name === (e as Error).name),
      ),
    ),
  /** Errors the predicate accepts. */
  when: (predicate: (error: unknown) => boolean): ErrorFilter => filter((e) => predicate(e) === true),
};
