import { type Random, systemRandom } from '../clock/clock.js';
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

const networkError = (call: number) =>
  Object.assign(new Error(`injected fault on call ${call}`), { code: 'ECONNRESET' });

/** Wraps a function so that some of its calls fail: for tests, examples and the demo. */
export function faultInjector<T>(
  fn: (context: ExecuteContext) => T | PromiseLike<T>,
  options: FaultInjectorOptions = {},
): FaultInjector<T> {
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
