import { OptionsValidator } from '../errors/validate.js';

/** Registered (`Symbol.for`): a marker made by one copy of core (ESM and CJS, two versions) is read by another. */
const UNRECORDED: unique symbol = /* @__PURE__ */ Symbol.for('@resilience/core:unrecorded');

/** What {@link unrecorded} makes. The value is under a symbol: a `value` property would steer `execute`'s type inference. */
export interface Unrecorded<T> {
  readonly [UNRECORDED]: T;
  readonly reason: string;
}

/** Why an outcome was not recorded: the {@link unrecorded} `reason`, or `'too_large'` with its JSON's `bytes`. */
export interface NotRecorded {
  readonly reason: string;
  readonly bytes?: number;
}

/**
 * Returned by `fn` of `idempotency().execute`: its callers get `value`, nothing is recorded,
 * the key is freed (the next call runs `fn` again) and the result says `unrecorded: { reason }`.
 *
 * @example
 * idem.execute(key, async () => {
 *   const answer = await provider.charge(amount);
 *   return answer.status >= 500 ? unrecorded(answer, 'provider down') : answer; // a retry tries again
 * });
 */
export function unrecorded<T>(value: T, reason: string): Unrecorded<T> {
  if (typeof reason !== 'string' || reason.length === 0) {
    new OptionsValidator('unrecorded').string('reason', reason).required('reason', reason).done();
  }
  return { [UNRECORDED]: value, reason };
}

// Whether `returned` is an {@link unrecorded} marker.
export function isUnrecorded(returned: unknown): returned is Unrecorded<unknown> {
  return typeof returned === 'object' && returned !== null && UNRECORDED in returned;
}

// The value of an {@link unrecorded} marker.
export const unrecordedValue = <T>(marker: Unrecorded<T>): T => marker[UNRECORDED];
