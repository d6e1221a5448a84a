import { type Random, systemRandom } from '../clock/clock.js';
import { type OptionNames, OptionsValidator } from '../errors/validate.js';
import type { ExecuteContext } from '../policy/policy.js';

export interface FaultInjectorOptions {
  /** The first `failFirst` calls fail. @default 0 */
  failFirst?: number;
  /** After those, each call fails with this probability. @default 0 */
  failureRate?: number;
  /** Builds the error a failing call throws. @default a network error with code `ECONNRESET` */
  error?: (call: number) => unknown;
  random?: Random;
}

export interface FaultInjector<T> {
  /** Calls the wrapped function, or throws an injected fault. */
  (context: ExecuteContext): Promise<T>;
  /** Calls made so far. */
  readonly calls: number;
  /** Faults injected so far. */
  readonly failures: number;
}

/** Every option of `faultInjector`; any other name is rejected. */
export const FAULT_INJECTOR_OPTION_NAMES = {
  failFirst: true,
  failureRate: true,
  error: true,
  random: true,
} as const satisfies OptionNames<FaultInjectorOptions>;

const networkError = (call: number) =>
  Object.assign(new Error(`injected fault on call ${call}`), { code: 'ECONNRESET' });

/** Wraps a function so that some of its calls fail: for tests, examples and the demo. */
export function faultInjector<T>(
  fn: (context: ExecuteContext) => T | PromiseLike<T>,
  options: FaultInjectorOptions = {},
): FaultInjector<T> {
  const v = new OptionsValidator('faultInjector');
  v.required('fn', fn).function('fn', fn);
  const o = v.known(options, FAULT_INJECTOR_OPTION_NAMES);
  v.integer('failFirst', o.failFirst, { min: 0 });
  v.number('failureRate', o.failureRate, { min: 0, max: 1 });
  v.predicate('error', o.error); // an async one answers a promise: the call would reject with it
  v.predicate('random', o.random);
  v.done();
  const { failFirst = 0, failureRate = 0, error = networkError, random = systemRandom } = options;
  let calls = 0;
  let failures = 0;
  const injector = async (context: ExecuteContext) => {
    calls++;
    if (calls <= failFirst || (failureRate > 0 && random() < failureRate)) {
      failures++;
      throw error(calls);
    }
    return fn(context);
  };
  return Object.defineProperties(injector, {
    calls: { get: () => calls },
    failures: { get: () => failures },
  }) as FaultInjector<T>;
}
