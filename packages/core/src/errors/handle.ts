import { isTransient } from './classify.js';
import { isOwnRejection, isResilienceError } from './errors.js';
import { OptionsValidator } from './validate.js';

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

// Checked when built: a filter over a non-function (or an async one, whose promise is no
// `true`) would throw or say no to every error, in silence (a breaker counts every one).
const yesNo = (call: string, f: unknown, optional?: boolean): void => {
  const v = new OptionsValidator(`handle.${call}`).predicate('predicate', f);
  if (!optional) v.required('predicate', f);
  v.done();
};

function filter(predicate: (error: unknown) => boolean): ErrorFilter {
  const f = ((error: unknown) => predicate(error)) as ErrorFilter;
  f.or = (other) => {
    yesNo('or', other);
    return filter((e) => predicate(e) || other(e));
  };
  f.and = (other) => {
    yesNo('and', other);
    return filter((e) => predicate(e) && other(e));
  };
  f.not = (other) => {
    yesNo('not', other, true);
    return filter(other ? (e) => predicate(e) && !other(e) : (e) => !predicate(e));
  };
  f.orOwnRejections = () => filter((e) => predicate(e) || isOwnRejection(e));
  return f;
}

/**
 * Builders of error filters, combinable with `.or`, `.and` and `.not`; `all` and `transient` leave
 * out the toolkit's own rejections unless `.orOwnRejections()`.
 */
export const handle = {
  /** Every error except the toolkit's own rejections; add them with `.orOwnRejections()`. */
  all: (): ErrorFilter => filter((e) => !isOwnRejection(e)),
  /** Errors retrying may fix (see `isTransient`); never the toolkit's own rejections. */
  transient: (): ErrorFilter => filter(isTransient),
  /** Instances of the given classes (and the toolkit's errors of the same code). */
  errors: (...classes: ErrorClass[]): ErrorFilter => {
    const v = new OptionsValidator('handle.errors').required('classes', classes[0]);
    // An arrow function (cockatiel's handleType(Class, predicate)) or a string would throw in `instanceof`.
    classes.forEach((C, i) => {
      v.check(typeof C === 'function' && Object(C.prototype) === C.prototype, `classes[${i}]`, C, 'an error class');
    });
    v.done();
    return filter((e) =>
      classes.some(
        (C) =>
          e instanceof C ||
          (isResilienceError(e) &&
            typeof (C as { prototype?: unknown }).prototype === 'object' &&
            (C as unknown as { name: string }).name === (e as Error).name),
      ),
    );
  },
  /** Errors the predicate accepts. */
  when: (predicate: (error: unknown) => boolean): ErrorFilter => {
    yesNo('when', predicate);
    return filter((e) => predicate(e) === true);
  },
};
