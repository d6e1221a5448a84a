import { isTransient } from './classify.js';
import { isResilienceError } from './errors.js';

/** Decides whether a policy handles (retries, counts, falls back on) an error. */
export interface ErrorFilter {
  (error: unknown): boolean;
  /** Handles what either filter handles. */
  or(other: (error: unknown) => boolean): ErrorFilter;
  /** Handles what both filters handle. */
  and(other: (error: unknown) => boolean): ErrorFilter;
  /** Handles what this filter does not. */
  not(): ErrorFilter;
}

type ErrorClass = abstract new (...args: never[]) => unknown;

function filter(predicate: (error: unknown) => boolean): ErrorFilter {
  const f = ((error: unknown) => predicate(error)) as ErrorFilter;
  f.or = (other) => filter((e) => predicate(e) || other(e));
  f.and = (other) => filter((e) => predicate(e) && other(e));
  f.not = () => filter((e) => !predicate(e));
  return f;
}

/** Builders of error filters, combinable with `.or`, `.and` and `.not`. */
export const handle = {
  /** Every error. */
  all: (): ErrorFilter => filter(() => true),
  /** Errors retrying may fix (see `isTransient`). */
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
